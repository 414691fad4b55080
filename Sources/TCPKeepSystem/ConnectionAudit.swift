import Dispatch
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// What `tcpkeep audit` is asked to look at.
public struct AuditRequest: Sendable {
    /// A process whose network namespace to read instead of this process's (a container's).
    public var netnsOf: Int32?
    public var selection: AuditSelection
    /// Seconds; see `classify`.
    public var maxIdle: Int?
    /// Read each socket's own options through pidfd_getfd.
    public var exact: Bool

    public init(netnsOf: Int32?, selection: AuditSelection, maxIdle: Int?, exact: Bool) {
        self.netnsOf = netnsOf
        self.selection = selection
        self.maxIdle = maxIdle
        self.exact = exact
    }
}

/// The audit: refuses what cannot be done before reading anything, then reads, maps and
/// classifies the selected sockets.
public func auditConnections(_ request: AuditRequest) throws -> AuditReport {
    if request.exact { try requirePtraceRights("--exact") }
    if let pid = request.netnsOf { try requireProcess(pid, "--netns-of") }
    for pid in request.selection.pids.sorted() { try requireProcess(pid, "--pid") }
    let directory = request.netnsOf.map { "/proc/\($0)/net" } ?? "/proc/net"
    return try ConnectionAudit(
        netDirectory: directory, selection: request.selection, maxIdle: request.maxIdle, exact: request.exact
    ).report
}

/// The audit's core, which audit, doctor and fix share: the selected sockets of a network
/// namespace, mapped to the processes holding them and classified.
struct ConnectionAudit {
    let report: AuditReport
    /// The process and descriptor holding each mapped socket, by inode.
    let holders: [UInt64: SocketHolder]

    /// `netDirectory` is /proc/net, or /proc/PID/net for PID's namespace. With `exact`, each
    /// socket's options are read through pidfd_getfd (the caller checks the rights first).
    /// With PIDs selected, only their descriptors are scanned: a socket they share with
    /// another process counts as theirs.
    init(netDirectory: String, selection: AuditSelection, maxIdle: Int?, exact: Bool) throws {
        // The kernel's cost of writing out /proc/net/tcp and of reading every descriptor's link
        // are the two large ones: they run side by side.
        let pids = selection.pids.isEmpty ? nil : selection.pids
        let scan = BackgroundWork { SocketOwnership.scan(only: pids) }
        let records = try readSocketRecords(netDirectory).filter(selection.selects)
        let ownership = scan.wait()
        var owners = OwnerCache()
        var peers = PeerSockets()
        defer { peers.close() }
        var connections: [AuditedConnection] = []
        var unmapped = 0
        for record in records {
            let holder = ownership.holders[record.inode]
            let owner = holder.flatMap { owners.owner($0.pid) }
            // Counted before the owner filters: an unmapped socket may be the selection's. With
            // PIDs selected only theirs are scanned, and the rest are simply not theirs.
            if owner == nil && record.inode != 0 && pids == nil { unmapped += 1 }
            guard selection.selects(owner) else { continue }
            let options = try exact ? holder.flatMap { try peers.options(of: $0, inode: record.inode) } : nil
            connections.append(AuditedConnection(
                record: record, owner: owner, options: options, status: classify(record, options: options, maxIdle: maxIdle)))
        }
        connections.sort { ($0.owner?.pid ?? .max, $0.record.local.port) < ($1.owner?.pid ?? .max, $1.record.local.port) }
        var gaps = AuditGaps(unmappedSockets: unmapped, unreadableProcesses: ownership.unreadableProcesses)
        if unmapped > 0 {
            gaps.reason = ownership.unreadableProcesses > 0
                ? "the open files of \(ownership.unreadableProcesses) processes are readable by root only"
                : "no process holds them now: orphaned, or their process exited during the scan"
        }
        report = AuditReport(connections: connections, gaps: gaps)
        holders = ownership.holders
    }
}

/// Work on a thread of its own; `wait()` returns its result.
final class BackgroundWork<Value: Sendable>: @unchecked Sendable {
    private var value: Value?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> Value) {
        DispatchQueue.global().async {
            self.value = work()
            self.done.signal()
        }
    }

    /// The semaphore orders the worker's write of `value` before this read.
    func wait() -> Value {
        done.wait()
        return value!
    }
}

/// A /proc/net table that is not there.
public struct MissingProcFile: Error, CustomStringConvertible, Sendable {
    public let path: String
    public var description: String { "\(path) does not exist" }
}

/// The rows of tcp and tcp6 in `directory` (/proc/net or /proc/PID/net).
func readSocketRecords(_ directory: String) throws -> [SocketRecord] {
    var records: [SocketRecord] = []
    for name in ["tcp", "tcp6"] {
        let path = "\(directory)/\(name)"
        guard let text = try Files.read(path) else {
            // A kernel without IPv6 has no tcp6.
            if name == "tcp6" { continue }
            throw MissingProcFile(path: path)
        }
        records += try parseProcNetTCP(text, file: path)
    }
    return records
}

/// A PID with no process behind it, given as `option`.
public struct NoSuchProcess: Error, CustomStringConvertible, Sendable {
    public let pid: Int32
    public let option: String
    public var description: String { "\(option) \(pid): no such process" }
}

/// Refuses a PID with no process behind it.
public func requireProcess(_ pid: Int32, _ option: String) throws(NoSuchProcess) {
    guard pid > 0, access("/proc/\(pid)", F_OK) == 0 else { throw NoSuchProcess(pid: pid, option: option) }
}
