/// The forms an audit is written in.
public enum AuditFormat: String, CaseIterable, Sendable {
    case table, json, prometheus

    /// A writer that turns connections into this format as they come.
    public func makeWriter() -> any AuditWriter {
        switch self {
        case .table: AuditTableWriter()
        case .json: AuditJSONWriter()
        case .prometheus: AuditPrometheusWriter()
        }
    }

    /// The whole audit as one text: for a report already in memory (doctor's, the tests').
    public func render(_ report: AuditReport) -> String {
        var text = ""
        var writer = makeWriter()
        writer.reserve(report.connections.count)
        for connection in report.connections { writer.add(connection, to: &text) }
        writer.finish(report.summary, to: &text)
        return text
    }
}

/// Writes an audit as its connections are classified: `add` for each, in any order, then
/// `finish` with the summary. What a writer keeps meanwhile is compact and bounded: the table
/// keeps one small row per connection (it groups and aligns), JSON nothing, Prometheus one
/// count per series.
public protocol AuditWriter {
    /// Room for `count` connections, when the caller knows it, so that storage grows once.
    mutating func reserve(_ count: Int)
    mutating func add(_ connection: AuditedConnection, to output: inout some TextOutputStream)
    mutating func finish(_ summary: AuditSummary, to output: inout some TextOutputStream)
}

public func formatAuditTable(_ report: AuditReport) -> String { AuditFormat.table.render(report) }
public func formatAuditJSON(_ report: AuditReport) -> String { AuditFormat.json.render(report) }
public func formatAuditPrometheus(_ report: AuditReport) -> String { AuditFormat.prometheus.render(report) }

/// The audit as a table grouped by container, then process and unit, with a summary line.
/// Connections with no container come first, those whose process is unknown last in their
/// group. Each connection costs one fixed-size row until `finish` sorts and writes them.
public struct AuditTableWriter: AuditWriter {
    private struct Row {
        var record: SocketRecord
        /// Index into `owners`, -1 for none.
        var owner: Int32
        /// Index into `options`, -1 for none.
        var options: Int32
        var status: KeepaliveStatus
        /// 0 when not known.
        var netns: UInt64
    }

    private var rows: [Row] = []
    private var owners: [SocketOwner] = []
    private var ownerIndex: [Int32: Int32] = [:]
    private var options: [SocketOptions] = []

    public init() {}

    public mutating func reserve(_ count: Int) { rows.reserveCapacity(count) }

    public mutating func add(_ connection: AuditedConnection, to output: inout some TextOutputStream) {
        var owner: Int32 = -1
        if let known = connection.owner {
            if let index = ownerIndex[known.pid] {
                owner = index
            } else {
                owner = Int32(owners.count)
                ownerIndex[known.pid] = owner
                owners.append(known)
            }
        }
        var optionsIndex: Int32 = -1
        if let values = connection.options {
            optionsIndex = Int32(options.count)
            options.append(values)
        }
        rows.append(Row(record: connection.record, owner: owner, options: optionsIndex, status: connection.status, netns: connection.netns ?? 0))
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some TextOutputStream) {
        // Owners ranked once: host processes first, then by container, then by PID.
        let ranked = owners.indices.sorted { a, b in
            let (first, second) = (owners[a], owners[b])
            if (first.container ?? "") != (second.container ?? "") { return (first.container ?? "") < (second.container ?? "") }
            return first.pid < second.pid
        }
        var rank = [Int](repeating: 0, count: owners.count)
        for (position, index) in ranked.enumerated() { rank[index] = position }
        func rankOf(_ row: Row) -> Int { row.owner < 0 ? Int.max : rank[Int(row.owner)] }
        rows.sort { (rankOf($0), $0.netns, $0.record.local.port) < (rankOf($1), $1.netns, $1.record.local.port) }

        let hasContainers = owners.contains { $0.container != nil }
        var currentContainer: String?? = .none
        var start = 0
        while start < rows.count {
            var end = start + 1
            while end < rows.count && rows[end].owner == rows[start].owner && rows[end].netns == rows[start].netns { end += 1 }
            let owner = rows[start].owner < 0 ? nil : owners[Int(rows[start].owner)]
            if hasContainers && currentContainer != .some(owner?.container) {
                currentContainer = .some(owner?.container)
                if let container = owner?.container {
                    output.write("container \(container.prefix(12))\(owner?.pod.map { " (pod \($0))" } ?? "")\n")
                } else {
                    output.write(owner == nil ? "container unknown\n" : "no container\n")
                }
            }
            writeGroup(rows[start..<end], owner: owner, to: &output)
            start = end
        }
        output.write(summaryLine(summary) + "\n")
        rows = []
    }

    private func cells(_ row: Row) -> [String] {
        [
            row.status.rawValue, row.record.local.description, row.record.remote.description, row.record.state.name,
            timerText(row.record), row.options < 0 ? "" : optionsText(options[Int(row.options)]),
        ]
    }

    private func writeGroup(_ group: ArraySlice<Row>, owner: SocketOwner?, to output: inout some TextOutputStream) {
        let netns = group.first!.netns == 0 ? "" : ", netns \(group.first!.netns)"
        if let owner {
            output.write("\(owner.process) (pid \(owner.pid), \(owner.unit ?? "no unit")\(netns))\(owner.executable.map { " \($0)" } ?? "")\n")
        } else {
            output.write("owner unknown\(netns.isEmpty ? "" : " (\(netns.dropFirst(2)))")\n")
        }
        // Two passes over the group's rows: the widths, then the lines; no row is kept as text.
        let header = ["STATUS", "LOCAL", "REMOTE", "STATE", "TIMER", "OPTIONS"]
        var widths = header.map(\.utf8.count)
        for row in group {
            for (column, cell) in cells(row).enumerated() { widths[column] = max(widths[column], cell.utf8.count) }
        }
        var line = ""
        appendRow(header, widths: widths, to: &line)
        output.write(line)
        for row in group {
            line.removeAll(keepingCapacity: true)
            appendRow(cells(row), widths: widths, to: &line)
            output.write(line)
        }
        output.write("\n")
    }
}

/// One aligned line: cells two spaces apart, indented, no trailing spaces.
private func appendRow(_ row: [String], widths: [Int], to output: inout String) {
    let last = row.lastIndex { !$0.isEmpty } ?? 0
    output += "  "
    for (column, cell) in row[...last].enumerated() {
        output += cell
        if column < last { output += String(repeating: " ", count: widths[column] - cell.utf8.count + 2) }
    }
    output += "\n"
}

/// `{"connections": [...], "summary": {...}}`, one connection per line, each written as it comes.
public struct AuditJSONWriter: AuditWriter {
    private var written = 0
    private var line = ""

    public init() {}

    public mutating func reserve(_ count: Int) {}

    public mutating func add(_ connection: AuditedConnection, to output: inout some TextOutputStream) {
        let record = connection.record
        let owner = connection.owner
        line.removeAll(keepingCapacity: true)
        line += written == 0 ? "{\"connections\": [\n  " : ",\n  "
        appendJSONObject(to: &line, [
            ("local", json(record.local.description)), ("remote", json(record.remote.description)),
            ("state", json(record.state.name)), ("status", json(connection.status.rawValue)),
            ("timer", json(record.timer.name)),
            ("timer_seconds", record.timer == .none ? "null" : jsonNumber(record.timerSeconds)),
            ("probes", "\(record.probes)"), ("retransmits", "\(record.retransmits)"),
            ("send_queue", "\(record.sendQueue)"), ("receive_queue", "\(record.receiveQueue)"),
            ("inode", "\(record.inode)"), ("uid", "\(record.uid)"),
            ("pid", owner.map { "\($0.pid)" } ?? "null"), ("process", owner.map { json($0.process) } ?? "null"),
            ("executable", owner?.executable.map(json) ?? "null"), ("unit", owner?.unit.map(json) ?? "null"),
            ("netns", connection.netns.map { "\($0)" } ?? "null"),
            ("container", owner?.container.map(json) ?? "null"), ("pod", owner?.pod.map(json) ?? "null"),
            ("options", connection.options.map(optionsJSON) ?? "null"),
        ])
        output.write(line)
        written += 1
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some TextOutputStream) {
        var text = written == 0 ? "{\"connections\": [],\n\"summary\": " : "\n],\n\"summary\": "
        appendJSONObject(to: &text, summaryFields(summary))
        text += "}\n"
        output.write(text)
    }
}

/// Gauges for node_exporter's textfile collector. The series are bounded by what owns the
/// connections, never by the connections: one per (process name, unit, container, pod,
/// status) that occurs, none per PID, port or address; the totals by status (every status,
/// zeros included); the unmapped sockets; the namespaces by how they were read.
public struct AuditPrometheusWriter: AuditWriter {
    private var byOwner: [String: Int] = [:]

    public init() {}

    public mutating func reserve(_ count: Int) {}

    public mutating func add(_ connection: AuditedConnection, to output: inout some TextOutputStream) {
        let owner = connection.owner
        let labels = prometheusLabels([
            ("process", owner?.process ?? ""), ("unit", owner?.unit ?? ""), ("container", owner?.container ?? ""),
            ("pod", owner?.pod ?? ""), ("status", connection.status.rawValue),
        ])
        byOwner[labels, default: 0] += 1
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some TextOutputStream) {
        output.write("""
            # HELP tcpkeep_connections TCP connections by owning process, systemd unit, container, pod and keepalive status.
            # TYPE tcpkeep_connections gauge

            """)
        for labels in byOwner.keys.sorted() {
            output.write("tcpkeep_connections\(labels) \(byOwner[labels]!)\n")
        }
        output.write("""
            # HELP tcpkeep_connections_by_status TCP connections by keepalive status.
            # TYPE tcpkeep_connections_by_status gauge

            """)
        for status in KeepaliveStatus.allCases {
            output.write("tcpkeep_connections_by_status\(prometheusLabels([("status", status.rawValue)])) \(summary.count(status))\n")
        }
        output.write("""
            # HELP tcpkeep_unmapped_sockets Selected sockets that could not be mapped to a process.
            # TYPE tcpkeep_unmapped_sockets gauge
            tcpkeep_unmapped_sockets \(summary.gaps.unmappedSockets)

            """)
        if !summary.namespaces.isEmpty {
            output.write("""
                # HELP tcpkeep_network_namespaces Network namespaces audited, by how their sockets were read (unreadable: not at all).
                # TYPE tcpkeep_network_namespaces gauge

                """)
            for source in AuditSource.allCases.map(\.rawValue) + ["unreadable"] {
                let count = summary.namespaces.filter { ($0.source?.rawValue ?? "unreadable") == source }.count
                output.write("tcpkeep_network_namespaces\(prometheusLabels([("source", source)])) \(count)\n")
            }
        }
        byOwner = [:]
    }
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

func summaryLine(_ report: AuditReport) -> String { summaryLine(report.summary) }

func summaryLine(_ summary: AuditSummary) -> String {
    let counts = KeepaliveStatus.allCases.map { "\(summary.count($0)) \($0.rawValue)" }.joined(separator: ", ")
    var line = "\(summary.connections) connections: \(counts)"
    if summary.gaps.unmappedSockets > 0 {
        line += "; \(summary.gaps.unmappedSockets) sockets not mapped to a process"
        if let reason = summary.gaps.reason { line += " (\(reason))" }
    }
    if let sources = sourcesText(summary.namespaces) { line += "; " + sources }
    return line
}

/// `read with netlink`, `read from /proc (netlink: why)`, or for several namespaces the
/// count read each way and why some could not be read.
func sourcesText(_ namespaces: [NamespaceRead]) -> String? {
    guard let first = namespaces.first else { return nil }
    func how(_ read: NamespaceRead) -> String {
        switch read.source {
        case .netlink: "read with netlink"
        case .proc: "read from /proc" + (read.note.map { " (\($0))" } ?? "")
        case nil: "not read" + (read.note.map { " (\($0))" } ?? "")
        }
    }
    if namespaces.count == 1 && first.netns == nil { return how(first) }
    let netlink = namespaces.filter { $0.source == .netlink }.count
    let proc = namespaces.filter { $0.source == .proc }
    let unread = namespaces.filter { $0.source == nil }
    var text = "\(namespaces.count) network namespace\(namespaces.count == 1 ? "" : "s"): \(netlink) read with netlink, \(proc.count) from /proc"
    if let note = proc.first?.note { text += " (\(note))" }
    text += ", \(unread.count) not read"
    if let note = unread.first?.note { text += " (\(note))" }
    return text
}

func summaryFields(_ report: AuditReport) -> [(String, String)] { summaryFields(report.summary) }

/// The summary's fields: the count of each status, what could not be mapped, and how each
/// network namespace was read.
func summaryFields(_ summary: AuditSummary) -> [(String, String)] {
    var fields = [("connections", "\(summary.connections)")]
    fields += KeepaliveStatus.allCases.map { ($0.rawValue, "\(summary.count($0))") }
    fields += [
        ("unmapped_sockets", "\(summary.gaps.unmappedSockets)"),
        ("unreadable_processes", "\(summary.gaps.unreadableProcesses)"),
        ("unmapped_reason", summary.gaps.reason.map(json) ?? "null"),
    ]
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

private func prometheusLabels(_ labels: [(String, String)]) -> String {
    let escaped = labels.map { name, value in "\(name)=\"\(backslashEscaped(value))\"" }
    return "{" + escaped.joined(separator: ",") + "}"
}
