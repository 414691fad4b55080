/// The forms an audit is written in.
public enum AuditFormat: String, CaseIterable, Sendable {
    case table, json, prometheus

    public func render(_ report: AuditReport) -> String {
        switch self {
        case .table: formatAuditTable(report)
        case .json: formatAuditJSON(report)
        case .prometheus: formatAuditPrometheus(report)
        }
    }
}

/// The audit as a table grouped by process and unit, with a summary line.
public func formatAuditTable(_ report: AuditReport) -> String {
    var output = ""
    output.reserveCapacity(report.connections.count * 120 + 256)
    let groups = Dictionary(grouping: report.connections.indices) { report.connections[$0].owner?.pid ?? -1 }
    // Processes by PID, sockets with no known owner last.
    for pid in groups.keys.sorted(by: { UInt32(bitPattern: $0) < UInt32(bitPattern: $1) }) {
        let rows = groups[pid]!.map { report.connections[$0] }
        if let owner = rows[0].owner {
            output += "\(owner.process) (pid \(owner.pid), \(owner.unit ?? "no unit"))"
            output += owner.executable.map { " \($0)\n" } ?? "\n"
        } else {
            output += "owner unknown\n"
        }
        appendTable(to: &output, header: ["STATUS", "LOCAL", "REMOTE", "STATE", "TIMER", "OPTIONS"], rows: rows.map { connection in
            [
                connection.status.rawValue, connection.record.local.description, connection.record.remote.description,
                connection.record.state.name, timerText(connection.record), connection.options.map(optionsText) ?? "",
            ]
        })
        output += "\n"
    }
    output += summaryLine(report) + "\n"
    return output
}

/// Aligned columns, two spaces apart, indented. Most cells are short enough for Swift's inline
/// small strings, so tens of thousands of rows cost little to keep.
func appendTable(to output: inout String, header: [String], rows: [[String]]) {
    // Widths in bytes: the cells are ASCII but for process names and paths, where a column
    // off by a little costs less than counting characters in every cell.
    var widths = header.map(\.utf8.count)
    for row in rows {
        for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.utf8.count) }
    }
    let padding = (0...(widths.max() ?? 0) + 2).map { String(repeating: " ", count: $0) }
    func append(_ row: [String]) {
        // The last non-empty cell ends the line: no trailing spaces.
        let last = row.lastIndex { !$0.isEmpty } ?? 0
        output += "  "
        for (column, cell) in row[...last].enumerated() {
            output += cell
            if column < last { output += padding[widths[column] - cell.utf8.count + 2] }
        }
        output += "\n"
    }
    append(header)
    rows.forEach(append)
}

func timerText(_ record: SocketRecord) -> String {
    guard record.timer != .none else { return "none" }
    let probes = record.probes > 0 ? ", \(record.probes) unanswered" : ""
    return "\(record.timer.name) \(formatSeconds(record.timerSeconds))\(probes)"
}

func optionsText(_ options: SocketOptions) -> String {
    guard options.keepalive else { return "keepalive off" }
    let userTimeout = options.userTimeout == 0 ? "default" : formatMilliseconds(options.userTimeout)
    return "idle \(formatDuration(seconds: options.idle)) interval \(formatDuration(seconds: options.interval)) count \(options.count) user-timeout \(userTimeout)"
}

/// `28.8s` under a minute, `1h59m58s` above.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds >= 60 { return formatDuration(seconds: Int(seconds.rounded())) }
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)s"
}

func summaryLine(_ report: AuditReport) -> String {
    let counts = KeepaliveStatus.allCases.map { "\(report.count($0)) \($0.rawValue)" }.joined(separator: ", ")
    var line = "\(report.connections.count) connections: \(counts)"
    if report.gaps.unmappedSockets > 0 {
        line += "; \(report.gaps.unmappedSockets) sockets not mapped to a process"
        if let reason = report.gaps.reason { line += " (\(reason))" }
    }
    return line
}

/// `{"connections": [...], "summary": {...}}`, one connection per line.
public func formatAuditJSON(_ report: AuditReport) -> String {
    // Appended in place: a busy host has tens of thousands of connections.
    var output = "{\"connections\": ["
    output.reserveCapacity(report.connections.count * 480 + 512)
    for (index, connection) in report.connections.enumerated() {
        let record = connection.record
        let owner = connection.owner
        output += index == 0 ? "\n  " : ",\n  "
        appendJSONObject(to: &output, [
            ("local", json(record.local.description)), ("remote", json(record.remote.description)),
            ("state", json(record.state.name)), ("status", json(connection.status.rawValue)),
            ("timer", json(record.timer.name)),
            ("timer_seconds", record.timer == .none ? "null" : jsonNumber(record.timerSeconds)),
            ("probes", "\(record.probes)"), ("retransmits", "\(record.retransmits)"),
            ("send_queue", "\(record.sendQueue)"), ("receive_queue", "\(record.receiveQueue)"),
            ("inode", "\(record.inode)"), ("uid", "\(record.uid)"),
            ("pid", owner.map { "\($0.pid)" } ?? "null"), ("process", owner.map { json($0.process) } ?? "null"),
            ("executable", owner?.executable.map(json) ?? "null"), ("unit", owner?.unit.map(json) ?? "null"),
            ("options", connection.options.map(optionsJSON) ?? "null"),
        ])
    }
    output += report.connections.isEmpty ? "],\n\"summary\": " : "\n],\n\"summary\": "
    appendJSONObject(to: &output, summaryFields(report))
    output += "}\n"
    return output
}

/// The summary's fields: the count of each status and what could not be mapped.
func summaryFields(_ report: AuditReport) -> [(String, String)] {
    var summary = [("connections", "\(report.connections.count)")]
    summary += KeepaliveStatus.allCases.map { ($0.rawValue, "\(report.count($0))") }
    summary += [
        ("unmapped_sockets", "\(report.gaps.unmappedSockets)"),
        ("unreadable_processes", "\(report.gaps.unreadableProcesses)"),
        ("unmapped_reason", report.gaps.reason.map(json) ?? "null"),
    ]
    return summary
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

/// A JSON string literal.
public func json(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// Gauges for node_exporter's textfile collector: connections by process, unit and status;
/// totals by status, every status present; and the sockets that could not be mapped.
public func formatAuditPrometheus(_ report: AuditReport) -> String {
    var output = """
        # HELP tcpkeep_connections TCP connections by owning process, systemd unit and keepalive status.
        # TYPE tcpkeep_connections gauge

        """
    var byOwner: [String: Int] = [:]
    for connection in report.connections {
        let labels = [
            ("process", connection.owner?.process ?? ""), ("unit", connection.owner?.unit ?? ""),
            ("status", connection.status.rawValue),
        ]
        byOwner[prometheusLabels(labels), default: 0] += 1
    }
    for labels in byOwner.keys.sorted() {
        output += "tcpkeep_connections\(labels) \(byOwner[labels]!)\n"
    }
    output += """
        # HELP tcpkeep_connections_by_status TCP connections by keepalive status.
        # TYPE tcpkeep_connections_by_status gauge

        """
    for status in KeepaliveStatus.allCases {
        output += "tcpkeep_connections_by_status\(prometheusLabels([("status", status.rawValue)])) \(report.count(status))\n"
    }
    output += """
        # HELP tcpkeep_unmapped_sockets Selected sockets that could not be mapped to a process.
        # TYPE tcpkeep_unmapped_sockets gauge
        tcpkeep_unmapped_sockets \(report.gaps.unmappedSockets)

        """
    return output
}

private func prometheusLabels(_ labels: [(String, String)]) -> String {
    let escaped = labels.map { name, value in "\(name)=\"\(backslashEscaped(value))\"" }
    return "{" + escaped.joined(separator: ",") + "}"
}
