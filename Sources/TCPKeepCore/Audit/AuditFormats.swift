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
/// keeps one small row per connection (it groups and aligns), JSON nothing, Prometheus a count
/// per process and status.
public protocol AuditWriter {
    /// Room for `count` connections, when the caller knows it, so that storage grows once.
    mutating func reserve(_ count: Int)
    mutating func add(_ connection: AuditedConnection, to output: inout some AuditOutputStream)
    mutating func finish(_ summary: AuditSummary, to output: inout some AuditOutputStream)
}

public func formatAuditTable(_ report: AuditReport) -> String { AuditFormat.table.render(report) }
public func formatAuditJSON(_ report: AuditReport) -> String { AuditFormat.json.render(report) }
public func formatAuditPrometheus(_ report: AuditReport) -> String { AuditFormat.prometheus.render(report) }

/// The audit as a table grouped by container, then process and unit, with a summary line.
/// Connections with no container come first, those whose process is unknown last in their
/// group. Each connection costs one fixed-size row until `finish` sorts and writes them.
public struct AuditTableWriter: AuditWriter {
    /// What a line shows of a connection, in 72 bytes: a busy host has tens of thousands.
    private struct Row {
        var local: Endpoint
        var remote: Endpoint
        var timerTicks: UInt32
        var probes: UInt32
        /// Index into `owners`, -1 for none.
        var owner: Int32
        /// Index into `options`, -1 for none.
        var options: Int32
        /// Index into `namespaces`.
        var netns: UInt16
        var state: TCPState
        var timer: UInt8
        var status: KeepaliveStatus

        /// A record with what the timer column reads.
        var record: SocketRecord {
            SocketRecord(
                local: local, remote: remote, state: state, sendQueue: 0, receiveQueue: 0, timer: SocketTimer(code: timer),
                timerTicks: UInt64(timerTicks), retransmits: 0, uid: 0, probes: probes, inode: 0)
        }
    }

    private var rows: [Row] = []
    private var owners: [SocketOwner] = []
    private var ownerIndex: [Int32: Int32] = [:]
    private var options: [SocketOptions] = []
    /// The namespaces seen, 0 for none; rows refer to them by index.
    private var namespaces: [UInt64] = [0]
    private var namespaceIndex: [UInt64: UInt16] = [0: 0]

    public init() {}

    public mutating func reserve(_ count: Int) { rows.reserveCapacity(count) }

    public mutating func add(_ connection: AuditedConnection, to output: inout some AuditOutputStream) {
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
        let netns = connection.netns ?? 0
        var namespace = namespaceIndex[netns]
        if namespace == nil && namespaces.count < Int(UInt16.max) {
            namespace = UInt16(namespaces.count)
            namespaceIndex[netns] = namespace
            namespaces.append(netns)
        }
        let record = connection.record
        let timerCode: UInt8 = switch record.timer {
        case .none: 0
        case .retransmit: 1
        case .keepalive: 2
        case .timeWait: 3
        case .zeroWindowProbe: 4
        case .other(let code): code
        }
        rows.append(Row(
            local: record.local, remote: record.remote, timerTicks: UInt32(clamping: record.timerTicks), probes: record.probes,
            owner: owner, options: optionsIndex, netns: namespace ?? 0, state: record.state, timer: timerCode, status: connection.status))
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some AuditOutputStream) {
        // Owners ranked once: host processes first, then by container, then by PID.
        let ranked = owners.indices.sorted { a, b in
            let (first, second) = (owners[a], owners[b])
            if (first.container ?? "") != (second.container ?? "") { return (first.container ?? "") < (second.container ?? "") }
            return first.pid < second.pid
        }
        var rank = [UInt64](repeating: 0, count: owners.count)
        for (position, index) in ranked.enumerated() { rank[index] = UInt64(position) }
        // One 64-bit key per row (owner's rank, namespace, local port), the row's index below
        // it: sorting these is sorting the rows, without moving them.
        var order = rows.indices.map { index -> (key: UInt64, index: Int32) in
            let row = rows[index]
            let ownerRank = row.owner < 0 ? UInt64(0xffff_ffff) : rank[Int(row.owner)]
            return (ownerRank << 32 | UInt64(row.netns) << 16 | UInt64(row.local.port), Int32(index))
        }
        order.sort { ($0.key, $0.index) < ($1.key, $1.index) }

        let hasContainers = owners.contains { $0.container != nil }
        var currentContainer: String?? = .none
        var start = 0
        while start < order.count {
            let first = rows[Int(order[start].index)]
            var end = start + 1
            while end < order.count && order[end].key >> 16 == order[start].key >> 16 { end += 1 }
            let owner = first.owner < 0 ? nil : owners[Int(first.owner)]
            if hasContainers && currentContainer != .some(owner?.container) {
                currentContainer = .some(owner?.container)
                if let container = owner?.container {
                    output.write("container \(container.prefix(12))\(owner?.pod.map { " (pod \($0))" } ?? "")\n")
                } else {
                    output.write(owner == nil ? "container unknown\n" : "no container\n")
                }
            }
            writeGroup(order[start..<end], owner: owner, netns: namespaces[Int(first.netns)], to: &output)
            start = end
        }
        output.write(summaryLine(summary) + "\n")
        rows = []
    }

    private func writeGroup(
        _ group: ArraySlice<(key: UInt64, index: Int32)>, owner: SocketOwner?, netns: UInt64, to output: inout some AuditOutputStream
    ) {
        let netnsText = netns == 0 ? "" : ", netns \(netns)"
        if let owner {
            output.write("\(owner.process) (pid \(owner.pid), \(owner.unit ?? "no unit")\(netnsText))\(owner.executable.map { " \($0)" } ?? "")\n")
        } else {
            output.write("owner unknown\(netns == 0 ? "" : " (netns \(netns))")\n")
        }
        // Two passes over the group's rows: the widths (IPv4 endpoints counted, not written),
        // then the lines; no row is kept as text.
        let header: [StaticString] = ["STATUS", "LOCAL", "REMOTE", "STATE", "TIMER", "OPTIONS"]
        var widths = header.map(\.utf8CodeUnitCount)
        for entry in group {
            let row = rows[Int(entry.index)]
            widths[0] = max(widths[0], row.status.rawValue.utf8.count)
            widths[1] = max(widths[1], row.local.textWidth)
            widths[2] = max(widths[2], row.remote.textWidth)
            widths[3] = max(widths[3], row.state.name.utf8.count)
            widths[4] = max(widths[4], timerText(row.record).utf8.count)
            if row.options >= 0 { widths[5] = max(widths[5], optionsText(options[Int(row.options)]).utf8.count) }
        }
        var line = TextBytes()
        /// One cell, padded to its column's width but for the line's last: no trailing spaces.
        func cell(_ column: Int, last: Bool = false, _ write: (inout TextBytes) -> Void) {
            let start = line.count
            write(&line)
            if !last { line.append(spaces: widths[column] - (line.count - start) + 2) }
        }
        line.append("  ")
        for (column, title) in header.enumerated() { cell(column, last: column == header.count - 1) { $0.append(title) } }
        line.append("\n")
        for entry in group {
            let row = rows[Int(entry.index)]
            line.append("  ")
            cell(0) { $0.append(string: row.status.rawValue) }
            cell(1) { $0.append(row.local) }
            cell(2) { $0.append(row.remote) }
            cell(3) { $0.append(string: row.state.name) }
            cell(4, last: row.options < 0) { $0.append(string: timerText(row.record)) }
            if row.options >= 0 { cell(5, last: true) { $0.append(string: optionsText(options[Int(row.options)])) } }
            line.append("\n")
            // Handed on a few kilobytes at a time.
            if line.count > 8192 {
                line.write(to: &output)
                line.removeAll()
            }
        }
        line.append("\n")
        line.write(to: &output)
    }
}

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
                    ("pid", "\(owner.pid)"), ("process", json(owner.process)), ("executable", owner.executable.map(json) ?? "null"),
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

/// Gauges for node_exporter's textfile collector. The series are bounded by what owns the
/// connections, never by the connections: one per (process name, unit, container, pod,
/// status) that occurs, none per PID, port or address; the totals by status (every status,
/// zeros included); the unmapped sockets; the namespaces by how they were read.
public struct AuditPrometheusWriter: AuditWriter {
    /// Connections by process (nil: unknown) and status, each process's owner kept once: the
    /// labels, which processes of one name and unit share, are made at `finish`, not per row.
    private var processes: [Int32?: Int] = [:]
    private var owners: [SocketOwner?] = []
    private var counts: [[KeepaliveStatus: Int]] = []

    public init() {}

    public mutating func reserve(_ count: Int) {}

    public mutating func add(_ connection: AuditedConnection, to output: inout some AuditOutputStream) {
        let pid = connection.owner?.pid
        let index = processes[pid] ?? {
            processes[pid] = owners.count
            owners.append(connection.owner)
            counts.append([:])
            return owners.count - 1
        }()
        counts[index][connection.status, default: 0] += 1
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some AuditOutputStream) {
        output.write("""
            # HELP tcpkeep_connections TCP connections by owning process, systemd unit, container, pod and keepalive status.
            # TYPE tcpkeep_connections gauge

            """)
        var series: [String: Int] = [:]
        for (owner, byStatus) in zip(owners, counts) {
            for (status, count) in byStatus {
                let labels = prometheusLabels([
                    ("process", owner?.process ?? ""), ("unit", owner?.unit ?? ""), ("container", owner?.container ?? ""),
                    ("pod", owner?.pod ?? ""), ("status", status.rawValue),
                ])
                series[labels, default: 0] += count
            }
        }
        for labels in series.keys.sorted() {
            output.write("tcpkeep_connections\(labels) \(series[labels]!)\n")
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
        (processes, owners, counts) = ([:], [], [])
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
    if let note = summary.ownersNote { line += "; processes found through /proc/PID/fd (BPF iterator: \(note))" }
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

func prometheusLabels(_ labels: [(String, String)]) -> String {
    let escaped = labels.map { name, value in "\(name)=\"\(backslashEscaped(value))\"" }
    return "{" + escaped.joined(separator: ",") + "}"
}
