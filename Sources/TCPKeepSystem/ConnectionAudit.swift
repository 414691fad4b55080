import Dispatch
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// What `tcpkeep audit` is asked to look at.
public struct AuditRequest: Sendable {
    /// A process whose network namespace to read instead of this process's (a container's).
    public var netnsOf: Int32?
    /// Every network namespace on the host.
    public var allNamespaces: Bool
    public var selection: AuditSelection
    /// Seconds; see `classify`.
    public var maxIdle: Int?
    /// Read each socket's own options through pidfd_getfd.
    public var exact: Bool
    /// Where sockets are read; nil: netlink, or /proc when a netlink socket cannot be had.
    public var source: AuditSource?
    /// How sockets are mapped to processes; nil: the BPF iterator, or /proc when it cannot be had.
    public var owners: OwnerSource?

    public init(
        netnsOf: Int32?, allNamespaces: Bool = false, selection: AuditSelection, maxIdle: Int?, exact: Bool, source: AuditSource? = nil,
        owners: OwnerSource? = nil
    ) {
        self.netnsOf = netnsOf
        self.allNamespaces = allNamespaces
        self.selection = selection
        self.maxIdle = maxIdle
        self.exact = exact
        self.source = source
        self.owners = owners
    }
}

/// The audit, streamed: refuses what cannot be done before reading anything, then reads,
/// maps and classifies the selected sockets, handing each connection to `each` as soon as it
/// is classified, in no particular order; `expecting` first learns how many sockets were read
/// (an upper bound on the connections to come). Returns the summary.
public func auditConnections(
    _ request: AuditRequest, expecting: (Int) -> Void = { _ in }, each: (AuditedConnection) throws -> Void
) throws -> AuditSummary {
    if request.exact { try requirePtraceRights("--exact") }
    keepHeapCompact()
    if let pid = request.netnsOf { try requireProcess(pid, "--netns-of") }
    for pid in request.selection.pids.sorted() { try requireProcess(pid, "--pid") }
    let targets: [NamespaceTarget]
    if request.allNamespaces {
        targets = allNetworkNamespaces()
    } else if let pid = request.netnsOf {
        targets = [NamespaceTarget(netns: nil, namespacePath: "/proc/\(pid)/ns/net", procDirectory: "/proc/\(pid)/net")]
    } else {
        targets = [NamespaceTarget(netns: nil, namespacePath: nil, procDirectory: "/proc/net", isOwn: true)]
    }
    return try ConnectionAudit.run(
        targets, source: request.source, owners: request.owners, selection: request.selection, maxIdle: request.maxIdle, exact: request.exact,
        tagNamespaces: request.allNamespaces, expecting: expecting, each: each
    ).summary
}

/// The audit as one report, sorted by process and port.
public func auditConnections(_ request: AuditRequest) throws -> AuditReport {
    var connections: [AuditedConnection] = []
    let summary = try auditConnections(request) { connections.append($0) }
    connections.sort { ($0.owner?.pid ?? .max, $0.record.local.port) < ($1.owner?.pid ?? .max, $1.record.local.port) }
    var report = AuditReport(connections: connections, gaps: summary.gaps)
    report.namespaces = summary.namespaces
    return report
}

/// The audit's core, which audit, doctor and fix share: the selected sockets of network
/// namespaces, mapped to the processes holding them and classified.
struct ConnectionAudit {
    let report: AuditReport
    /// The process and descriptor holding each mapped socket, by inode.
    let holders: SocketHolders

    /// `netDirectory` is /proc/net, or /proc/PID/net for PID's namespace, read as /proc text
    /// (doctor and fix: one process's few sockets). With `exact`, each socket's options are
    /// read through pidfd_getfd (the caller checks the rights first). With PIDs selected,
    /// only their descriptors are scanned: a socket they share with another process counts
    /// as theirs.
    init(netDirectory: String, selection: AuditSelection, maxIdle: Int?, exact: Bool) throws {
        var connections: [AuditedConnection] = []
        let run = try Self.run(
            [NamespaceTarget(netns: nil, namespacePath: nil, procDirectory: netDirectory)], source: .proc, selection: selection,
            maxIdle: maxIdle, exact: exact, tagNamespaces: false
        ) { connections.append($0) }
        connections.sort { ($0.owner?.pid ?? .max, $0.record.local.port) < ($1.owner?.pid ?? .max, $1.record.local.port) }
        report = AuditReport(connections: connections, gaps: run.summary.gaps)
        holders = run.holders
    }

    /// Reads each target's sockets while another thread maps descriptors to processes (`owners`
    /// says how; nil: the BPF iterator, or the /proc walk when it cannot be had), then
    /// classifies each socket and hands it to `each`. Only the sockets (compact records, in
    /// chunks released as they are handed on) and the descriptor map are held meanwhile.
    static func run(
        _ targets: [NamespaceTarget], source: AuditSource?, owners: OwnerSource? = nil, selection: AuditSelection, maxIdle: Int?,
        exact: Bool, tagNamespaces: Bool, expecting: (Int) -> Void = { _ in }, each: (AuditedConnection) throws -> Void
    ) throws -> (summary: AuditSummary, holders: SocketHolders) {
        // The kernel's cost of writing out the sockets and of finding their processes are the
        // two large ones: they run side by side.
        let pids = selection.pids.isEmpty ? nil : selection.pids
        let scan = BackgroundWork { OwnershipScan.find(only: pids, owners: owners, lookForRead: !selection.ports.isEmpty) }
        var read: [(target: NamespaceTarget, records: RecordChunks)] = []
        var summary = AuditSummary()
        do {
            for target in targets {
                var records = RecordChunks()
                guard let how = try readSockets(of: target, source: source, selection: selection, into: &records) else { continue }
                summary.namespaces.append(how)
                read.append((target, records))
            }
        } catch {
            _ = scan.wait()
            throw error
        }
        let ownership: SocketOwnership
        switch scan.wait() {
        case .done(let done, let note):
            ownership = done
            summary.ownersNote = note
        case .failed(let error):
            throw error
        case .walkForRead(let note):
            var wanted = Set<UInt64>()
            for entry in read { entry.records.forEach { if $0.inode != 0 { wanted.insert($0.inode) } } }
            ownership = SocketOwnership.scan(wanted: wanted)
            summary.ownersNote = note
        }
        summary.owners = ownership.source
        expecting(read.reduce(0) { $0 + $1.records.count })
        var processes = OwnerCache()
        var peers = PeerSockets()
        defer { peers.close() }
        var unmapped = 0
        // Neither /proc/net/tcp nor a netlink dump is a snapshot: a socket can come twice when
        // the table changes while it is read (seen under load). Socket inodes are unique on
        // the host, so the first row of each is the one kept: marked among the holders, and
        // for the few that no one holds, in a set.
        var holders = ownership.holders
        var unheldSeen = Set<UInt64>()
        // The owner filters compare names and paths: decided once a process.
        var selected: [Int32: Bool] = [:]
        func selects(_ owner: SocketOwner?) -> Bool {
            guard let owner else { return selection.selects(nil) }
            if let known = selected[owner.pid] { return known }
            let decision = selection.selects(owner)
            selected[owner.pid] = decision
            return decision
        }
        for index in read.indices {
            let netns = tagNamespaces ? read[index].target.netns : nil
            try read[index].records.drain { record in
                var holder: SocketHolder?
                if record.inode != 0 {
                    let claim = holders.claim(record.inode)
                    guard claim.isFirst || (claim.holder == nil && unheldSeen.insert(record.inode).inserted) else { return }
                    holder = claim.holder
                }
                let owner = holder.flatMap { processes.owner($0.pid) }
                // Counted before the owner filters: an unmapped socket may be the selection's. With
                // PIDs selected only theirs are scanned, and the rest are simply not theirs.
                if owner == nil && record.inode != 0 && pids == nil { unmapped += 1 }
                guard selects(owner) else { return }
                let options = try exact ? holder.flatMap { try peers.options(of: $0, inode: record.inode) } : nil
                let status = classify(record, options: options, maxIdle: maxIdle)
                summary.add(status)
                try each(AuditedConnection(record: record, owner: owner, options: options, status: status, netns: netns))
            }
        }
        summary.gaps = AuditGaps(unmappedSockets: unmapped, unreadableProcesses: ownership.unreadableProcesses)
        if unmapped > 0 {
            summary.gaps.reason = ownership.unreadableProcesses > 0
                ? "the open files of \(ownership.unreadableProcesses) processes are readable by root only"
                : "no process holds them now: orphaned, or their process exited during the scan"
        }
        return (summary, ownership.holders)
    }
}

/// What the thread that maps sockets to processes hands back.
private enum OwnershipScan: Sendable {
    /// `note`, here and below: why the BPF iterator, wanted, was not had.
    case done(SocketOwnership, note: String?)
    /// The BPF iterator, asked for by name, could not be had.
    case failed(SocketIteratorUnavailable)
    /// The walk is left until the sockets are read, to look for those alone.
    case walkForRead(note: String?)

    /// With PIDs selected, the walk of their descriptors alone: a socket they share with
    /// another process counts as theirs. Otherwise the BPF iterator, unless `owners` says
    /// proc; without it, the walk of every process, or with `lookForRead` (ports selected,
    /// so the kernel returns few sockets, fast) the walk for just the sockets read, which
    /// stops once it has them all.
    static func find(only pids: Set<Int32>?, owners: OwnerSource?, lookForRead: Bool) -> OwnershipScan {
        var note: String?
        if pids == nil && owners != .proc {
            do {
                return .done(try SocketOwnership.iterate(), note: nil)
            } catch {
                if owners == .bpf { return .failed(error) }
                // Without root the walk is the way, not a fallback worth a word.
                if error.code != EPERM || geteuid() == 0 { note = error.reason }
            }
        }
        if lookForRead && pids == nil { return .walkForRead(note: note) }
        return .done(SocketOwnership.scan(only: pids), note: note)
    }
}

private typealias MallOpt = @convention(c) (Int32, Int32) -> Int32

/// The audit's large arrays (sockets read, descriptors found, table rows) are allocated and
/// freed in turn on three threads: glibc is asked to map each block above 64 KiB on its own,
/// so that freeing it returns the memory at once, and to keep one heap for all threads
/// (M_MMAP_THRESHOLD, M_ARENA_MAX; its default raises the threshold after each such free and
/// gives every thread a heap of its own). Glibc's module map leaves out malloc.h, so mallopt
/// is looked up in libc; without it nothing changes.
private func keepHeapCompact() {
    guard let symbol = dlsym(nil, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
    _ = mallopt(-3, 64 * 1024) // M_MMAP_THRESHOLD
    _ = mallopt(-8, 1) // M_ARENA_MAX
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
