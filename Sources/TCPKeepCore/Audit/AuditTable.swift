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
            // What the process says of itself is escaped: it adds no line and no escape, and
            // the name and unit no word either (their spaces are \x20). The executable's path
            // is the rest of the line, so its spaces stay.
            let name = terminalSafe(owner.process.bytes, escapingSpaces: true)
            let unit = owner.unit.map { terminalSafe($0, escapingSpaces: true) } ?? "no unit"
            output.write("\(name) (pid \(owner.pid), \(unit)\(netnsText))\(owner.executable.map { " \($0)" } ?? "")\n")
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

