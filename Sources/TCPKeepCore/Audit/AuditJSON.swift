/// `{"connections": [...], "summary": {...}}`, one connection per line, each written as it comes.
public struct AuditJSONWriter: AuditWriter {
    private var written = 0
    private var line = TextBytes()
    /// The owner's fields as JSON, made once per process.
    private var ownerFields: [Int32: String] = [:]

    public init() {}

    public mutating func reserve(_ count: Int) {}

    public mutating func add(_ connection: AuditedConnection, to output: inout some AuditOutputStream) {
        let record = connection.record
        line.removeAll()
        line.append(written == 0 ? "{\"connections\": [\n  {\"local\": \"" : ",\n  {\"local\": \"")
        line.append(record.local)
        line.append("\", \"remote\": \"")
        line.append(record.remote)
        line.append("\", \"state\": \"")
        line.append(string: record.state.name)
        line.append("\", \"status\": \"")
        line.append(string: connection.status.rawValue)
        line.append("\", \"timer\": \"")
        line.append(string: record.timer.name)
        line.append("\", \"timer_seconds\": ")
        line.append(string: record.timer == .none ? "null" : jsonNumber(record.timerSeconds))
        line.append(", \"probes\": ")
        line.append(decimal: UInt64(record.probes))
        line.append(", \"retransmits\": ")
        line.append(decimal: UInt64(record.retransmits))
        line.append(", \"send_queue\": ")
        line.append(decimal: UInt64(record.sendQueue))
        line.append(", \"receive_queue\": ")
        line.append(decimal: UInt64(record.receiveQueue))
        line.append(", \"inode\": ")
        line.append(decimal: record.inode)
        line.append(", \"uid\": ")
        line.append(decimal: UInt64(record.uid))
        line.append(", ")
        if let owner = connection.owner {
            if ownerFields[owner.pid] == nil {
                ownerFields[owner.pid] = [
                    ("pid", "\(owner.pid)"), ("process", json(owner.process.string)), ("executable", owner.executable.map { json($0.string) } ?? "null"),
                    ("unit", owner.unit.map(json) ?? "null"),
                ].map { "\"\($0)\": \($1)" }.joined(separator: ", ")
            }
            line.append(string: ownerFields[owner.pid]!)
        } else {
            line.append(#""pid": null, "process": null, "executable": null, "unit": null"#)
        }
        line.append(", \"netns\": ")
        if let netns = connection.netns { line.append(decimal: netns) } else { line.append("null") }
        line.append(", \"container\": ")
        line.append(string: connection.owner?.container.map(json) ?? "null")
        line.append(", \"pod\": ")
        line.append(string: connection.owner?.pod.map(json) ?? "null")
        line.append(", \"options\": ")
        line.append(string: connection.options.map(optionsJSON) ?? "null")
        line.append("}")
        line.write(to: &output)
        written += 1
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some AuditOutputStream) {
        var text = written == 0 ? "{\"connections\": [],\n\"summary\": " : "\n],\n\"summary\": "
        appendJSONObject(to: &text, summaryFields(summary))
        text += "}\n"
        output.write(text)
    }
}

/// The summary's fields: the count of each status, what could not be mapped, how sockets were
/// mapped to processes, and how each network namespace was read.
func summaryFields(_ summary: AuditSummary) -> [(String, String)] {
    var fields = [("connections", "\(summary.connections)")]
    fields += KeepaliveStatus.allCases.map { ($0.rawValue, "\(summary.count($0))") }
    fields += [
        ("unmapped_sockets", "\(summary.gaps.unmappedSockets)"),
        ("unreadable_processes", "\(summary.gaps.unreadableProcesses)"),
        ("unmapped_reason", summary.gaps.reason.map(json) ?? "null"),
    ]
    if let owners = summary.owners {
        fields += [("owners", json(owners.rawValue)), ("owners_note", summary.ownersNote.map(json) ?? "null")]
    }
    if !summary.namespaces.isEmpty {
        let reads = summary.namespaces.map { read in
            jsonObject([
                ("netns", read.netns.map { "\($0)" } ?? "null"), ("source", read.source.map { json($0.rawValue) } ?? "null"),
                ("note", read.note.map(json) ?? "null"),
            ])
        }
        fields.append(("namespaces", "[" + reads.joined(separator: ", ") + "]"))
    }
    return fields
}

func optionsJSON(_ options: SocketOptions) -> String {
    jsonObject(optionsFields(options))
}

func optionsFields(_ options: SocketOptions) -> [(String, String)] {
    [
        ("keepalive", "\(options.keepalive)"), ("idle_seconds", "\(options.idle)"),
        ("interval_seconds", "\(options.interval)"), ("count", "\(options.count)"),
        ("user_timeout_ms", "\(options.userTimeout)"),
    ]
}

/// `{"name": value, ...}`; the values are JSON already.
func jsonObject(_ fields: [(String, String)]) -> String {
    var text = ""
    appendJSONObject(to: &text, fields)
    return text
}

/// Field values are JSON already; names are plain.
private func appendJSONObject(to output: inout String, _ fields: [(String, String)]) {
    output += "{"
    for (index, (name, value)) in fields.enumerated() {
        output += index == 0 ? "\"" : ", \""
        output += name
        output += "\": "
        output += value
    }
    output += "}"
}

private func jsonNumber(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// A JSON string literal. Besides what JSON requires, the characters a terminal would act on
/// (see `isUnsafeForDisplay`) are written as `\u` escapes: the value reads back the same, and
/// printed as it is, it starts no escape sequence.
public func json(_ text: String) -> String {
    "\"" + replacingScalars(in: text) { scalar in
        switch scalar {
        case "\"": "\\\""
        case "\\": "\\\\"
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case _ where isUnsafeForDisplay(scalar):
            "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
        default: nil
        }
    } + "\""
}
