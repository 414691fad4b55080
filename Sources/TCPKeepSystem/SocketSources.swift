import CLinux
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Socket records kept in fixed-size chunks while a dump runs: storage grows without copying
/// what it holds, and each chunk can be let go once it is consumed.
struct RecordChunks {
    static let chunkSize = 4096
    private(set) var chunks: [[SocketRecord]] = []
    private(set) var count = 0

    mutating func append(_ record: SocketRecord) {
        if chunks.isEmpty || chunks[chunks.count - 1].count == Self.chunkSize {
            chunks.append([])
            chunks[chunks.count - 1].reserveCapacity(Self.chunkSize)
        }
        chunks[chunks.count - 1].append(record)
        count += 1
    }

    func forEach(_ body: (SocketRecord) -> Void) {
        for chunk in chunks { chunk.forEach(body) }
    }

    /// Hands every record to `body`, releasing each chunk once it has been handed over.
    mutating func drain(_ body: (SocketRecord) throws -> Void) rethrows {
        for index in chunks.indices {
            for record in chunks[index] { try body(record) }
            chunks[index] = []
        }
        chunks = []
        count = 0
    }
}

/// A network namespace to read: through netlink from inside it (`namespacePath`, or this
/// process's own when nil) and through `procDirectory` (/proc/net or /proc/PID/net) when that
/// is refused.
struct NamespaceTarget {
    /// The namespace's inode, when known.
    var netns: UInt64?
    var namespacePath: String?
    var procDirectory: String?
    /// This process's own namespace: netlink needs no setns there.
    var isOwn = false
    /// Found by a scan of /proc: its process may exit before it is read, and the namespace
    /// with it; it is then left out rather than failing the audit.
    var mayVanish = false
}

/// Why a netlink socket could not be opened, or a dump failed.
struct NetlinkUnavailable: Error, CustomStringConvertible {
    /// What failed: `cannot open /proc/42/ns/net`, `setns`, `socket`, `dump`.
    let step: String
    let code: Int32
    var description: String { "netlink: \(step): \(errorText(code))" }
}

/// The selected sockets of one namespace, read the way `source` says (nil: netlink, falling
/// back to /proc when netlink cannot be opened or dumped). Returns how they were read, or nil
/// for a namespace that vanished with its process (`mayVanish`).
func readSockets(
    of target: NamespaceTarget, source: AuditSource?, selection: AuditSelection, into records: inout RecordChunks
) throws -> NamespaceRead? {
    var fallbackNote: String? = nil
    if source != .proc && !target.isOwn && target.namespacePath == nil {
        // Another namespace whose ns link this process may not open: no way inside it.
        if source == .netlink { throw NetlinkUnavailable(step: "setns", code: EPERM) }
        fallbackNote = "netlink: its ns link is not readable"
    } else if source != .proc {
        guard let failure = dumpWithNetlink(target, selection: selection, into: &records) else {
            return NamespaceRead(netns: target.netns, source: .netlink)
        }
        if target.mayVanish, let path = target.namespacePath, access(path, F_OK) != 0 { return nil }
        if source == .netlink { throw failure }
        fallbackNote = failure.description
        records = RecordChunks()
    }
    guard let directory = target.procDirectory else {
        return NamespaceRead(netns: target.netns, source: nil, note: fallbackNote ?? "no process in it to read /proc/PID/net through")
    }
    let rows: [SocketRecord]
    do {
        rows = try readSocketRecords(directory)
    } catch where target.mayVanish && (error is MissingProcFile || (error as? SystemError).map { [ENOENT, ESRCH].contains($0.code) } == true) {
        return nil
    } catch {
        // Of all the host's namespaces, one that cannot be read is said so; the audit goes on.
        guard target.mayVanish, let failure = error as? SystemError, [EACCES, EPERM].contains(failure.code) else { throw error }
        return NamespaceRead(netns: target.netns, source: nil, note: [fallbackNote, failure.description].compactMap { $0 }.joined(separator: "; "))
    }
    for record in rows where selection.selects(record) { records.append(record) }
    return NamespaceRead(netns: target.netns, source: .proc, note: fallbackNote)
}

private let stepNames: [tcpkeep_diag_step: String] = [
    TCPKEEP_DIAG_STEP_OPEN: "open", TCPKEEP_DIAG_STEP_THREAD: "thread", TCPKEEP_DIAG_STEP_SETNS: "setns",
    TCPKEEP_DIAG_STEP_SOCKET: "socket",
]

/// The sockets of the namespace, state and ports filtered by the kernel.
/// Nil when done, else why not.
private func dumpWithNetlink(_ target: NamespaceTarget, selection: AuditSelection, into records: inout RecordChunks) -> NetlinkUnavailable? {
    var step = TCPKEEP_DIAG_STEP_SOCKET
    let fd = target.namespacePath.map { tcpkeep_diag_open_netns_path($0, &step) } ?? tcpkeep_diag_open()
    guard fd >= 0 else {
        let code = errno
        let what = step == TCPKEEP_DIAG_STEP_OPEN ? "cannot open \(target.namespacePath ?? "")" : stepNames[step] ?? "socket"
        return NetlinkUnavailable(step: what, code: code)
    }
    defer { close(fd) }
    let states = selection.allStates ? UInt32(TCPKEEP_DIAG_ALL_STATES) : UInt32(1) << UInt32(TCPKEEP_DIAG_ESTABLISHED.rawValue)
    // More ranges than one filter takes: the kernel filters by state only, this process by port.
    let ranges = selection.ports.count <= Int(TCPKEEP_DIAG_MAX_PORT_RANGES)
        ? selection.ports.map { tcpkeep_diag_port_range(first: $0.range.lowerBound, last: $0.range.upperBound) } : []
    let result = withUnsafeMutablePointer(to: &records) { context in
        ranges.withUnsafeBufferPointer { ranges in
            tcpkeep_diag_dump(fd, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, states, ranges.baseAddress, ranges.count, { socket, context in
                let records = context!.assumingMemoryBound(to: RecordChunks.self)
                if let record = socketRecord(socket!.pointee) { records.pointee.append(record) }
                return 0
            }, context)
        }
    }
    guard result >= 0 else {
        let code = errno
        return NetlinkUnavailable(step: "dump", code: code)
    }
    if ranges.isEmpty && !selection.ports.isEmpty {
        var kept = RecordChunks()
        records.drain { if selection.selects($0) { kept.append($0) } }
        records = kept
    }
    return nil
}

/// A sock_diag record in /proc's terms (see sock_diag.h's table): the audit classifies both alike.
func socketRecord(_ socket: tcpkeep_diag_socket) -> SocketRecord? {
    guard let state = TCPState(rawValue: socket.state) else { return nil }
    func endpoint(_ address: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8), _ port: UInt16) -> Endpoint {
        withUnsafeBytes(of: address) { bytes in
            Endpoint(
                high: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)), port: port)
        }
    }
    return SocketRecord(
        local: endpoint(socket.src, socket.sport), remote: endpoint(socket.dst, socket.dport), state: state,
        sendQueue: socket.wqueue, receiveQueue: socket.rqueue, timer: SocketTimer(code: socket.timer),
        timerTicks: UInt64(socket.expires_ms / 10), retransmits: socket.retransmits, uid: socket.uid, probes: socket.probes,
        inode: UInt64(socket.inode))
}
