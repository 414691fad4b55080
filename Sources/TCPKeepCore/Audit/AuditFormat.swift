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

/// The counts by status, what could not be mapped and how, and how the sockets were read.
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

