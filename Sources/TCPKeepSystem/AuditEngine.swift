import Dispatch
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// What an audit is asked to look at, and whether to judge it.
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
    /// `--check`: a verdict on the selected connections.
    public var check: Bool

    public init(
        netnsOf: Int32? = nil, allNamespaces: Bool = false, selection: AuditSelection, maxIdle: Int? = nil, exact: Bool = false,
        source: AuditSource? = nil, owners: OwnerSource? = nil, check: Bool = false
    ) {
        self.netnsOf = netnsOf
        self.allNamespaces = allNamespaces
        self.selection = selection
        self.maxIdle = maxIdle
        self.exact = exact
        self.source = source
        self.owners = owners
        self.check = check
    }
}

/// Where the audit engine hands what it finds, as it finds it. The caller owns it: the audit's
/// text in a format (`FormattedAudit`), the connections kept in memory (doctor, fix), or any
/// other consumer of the same run, such as an HTTP response.
public protocol AuditSink {
    /// Room for up to `count` connections: the number of sockets read, known before the first.
    mutating func reserve(_ count: Int)
    /// A classified connection, in no particular order.
    mutating func add(_ connection: AuditedConnection) throws
    /// The audit is complete: the sink makes what it was given whole (writes the summary,
    /// commits a file). Its error fails the run.
    mutating func finish(_ summary: AuditSummary) throws
    /// The audit failed on the way: what the sink wrote must not be taken for a result.
    mutating func discard()
    /// What the sink could not include, one line each, once it is finished.
    var warnings: [String] { get }
}

extension AuditSink {
    public var warnings: [String] { [] }
}

/// What a finished audit concluded.
public struct AuditResult: Sendable {
    public var summary: AuditSummary
    /// What a person should know about how the audit was done: one line each.
    public var warnings: [String]
    /// The `--check` verdict, nil when none was asked for.
    public var verdict: CheckVerdict?
}

/// The audit, streamed, which `audit`, `doctor` and `fix` share: refuses what cannot be done
/// before reading anything, then reads each network namespace's selected sockets while another
/// thread maps descriptors to processes (`request.owners` says how; nil: the BPF iterator, or
/// the /proc walk when it cannot be had), classifies each socket and hands it to `sink`. Only the
/// sockets (compact records, in chunks released as they are handed on) and the descriptor map
/// are held meanwhile. With PIDs selected, only their descriptors are scanned: a socket they
/// share with another process counts as theirs. The sink is finished when the audit is whole,
/// and discarded when it fails.
public func runAudit(_ request: AuditRequest, into sink: inout some AuditSink) throws -> AuditResult {
    let summary: AuditSummary
    do {
        summary = try auditConnections(request, into: &sink)
        try sink.finish(summary)
    } catch {
        sink.discard()
        throw error
    }
    var warnings: [String] = []
    if request.source == nil, let note = summary.namespaces.first(where: { $0.source == .proc && $0.note != nil })?.note {
        warnings.append("\(note): read /proc instead")
    }
    if let note = summary.ownersNote { warnings.append("BPF iterator: \(note): found processes through /proc/PID/fd instead") }
    warnings += sink.warnings
    return AuditResult(summary: summary, warnings: warnings, verdict: request.check ? summary.checkVerdict(for: request.selection) : nil)
}

/// The run itself: its connections to `sink`, its summary returned.
private func auditConnections(_ request: AuditRequest, into sink: inout some AuditSink) throws -> AuditSummary {
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
    let selection = request.selection
    // The kernel's cost of writing out the sockets and of finding their processes are the
    // two large ones: they run side by side.
    let pids = selection.pids.isEmpty ? nil : selection.pids
    let scan = BackgroundWork { [owners = request.owners] in OwnerScan.find(only: pids, owners: owners, lookForRead: !selection.ports.isEmpty) }
    var read: [(target: NamespaceTarget, records: RecordChunks)] = []
    var summary = AuditSummary()
    do {
        for target in targets {
            var records = RecordChunks()
            guard let how = try readSockets(of: target, source: request.source, selection: selection, into: &records) else { continue }
            summary.namespaces.append(how)
            read.append((target, records))
        }
    } catch {
        _ = scan.wait()
        throw error
    }
    var owners: SocketOwners
    switch scan.wait() {
    case .done(let found, let note):
        owners = found
        summary.ownersNote = note
    case .failed(let error):
        throw error
    case .walkForRead(let note):
        var wanted = Set<UInt64>()
        for entry in read { entry.records.forEach { if $0.inode != 0 { wanted.insert($0.inode) } } }
        owners = SocketOwners.scan(wanted: wanted)
        summary.ownersNote = note
    }
    summary.owners = owners.source
    sink.reserve(read.reduce(0) { $0 + $1.records.count })
    var processes = OwnerCache()
    var peers = PeerSockets()
    defer { peers.close() }
    var unmapped = 0
    // Neither /proc/net/tcp nor a netlink dump is a snapshot: a socket can come twice when
    // the table changes while it is read (seen under load). Socket inodes are unique on
    // the host, so the first row of each is the one kept: marked among the owners, and
    // for the few that no one owns, in a set.
    var unownedSeen = Set<UInt64>()
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
        let netns = request.allNamespaces ? read[index].target.netns : nil
        try read[index].records.drain { record in
            var descriptor: OwnerDescriptor?
            if record.inode != 0 {
                let claim = owners.claim(record.inode)
                guard claim.isFirst || (claim.owner == nil && unownedSeen.insert(record.inode).inserted) else { return }
                descriptor = claim.owner
            }
            let owner = descriptor.flatMap { processes.owner($0.pid) }
            // Counted before the owner filters: an unmapped socket may be the selection's. With
            // PIDs selected only theirs are scanned, and the rest are simply not theirs.
            if owner == nil && record.inode != 0 && pids == nil { unmapped += 1 }
            guard selects(owner) else { return }
            let options = try request.exact ? descriptor.flatMap { try peers.options(of: $0, inode: record.inode) } : nil
            let status = classify(record, options: options, maxIdle: request.maxIdle)
            summary.add(status)
            try sink.add(AuditedConnection(record: record, owner: owner, fd: descriptor?.fd, options: options, status: status, netns: netns))
        }
    }
    summary.gaps = AuditGaps(unmappedSockets: unmapped, unreadableProcesses: owners.unreadableProcesses)
    if unmapped > 0 {
        summary.gaps.reason = owners.unreadableProcesses > 0
            ? "the open files of \(owners.unreadableProcesses) processes are readable by root only"
            : "no process holds them now: orphaned, or their process exited during the scan"
    }
    return summary
}

/// What the thread that maps sockets to processes hands back.
private enum OwnerScan: Sendable {
    /// `note`, here and below: why the BPF iterator, wanted, was not had.
    case done(SocketOwners, note: String?)
    /// The BPF iterator, asked for by name, could not be had.
    case failed(SocketIteratorUnavailable)
    /// The walk is left until the sockets are read, to look for those alone.
    case walkForRead(note: String?)

    /// With PIDs selected, the walk of their descriptors alone: a socket they share with
    /// another process counts as theirs. Otherwise the BPF iterator, unless `owners` says
    /// proc; without it, the walk of every process, or with `lookForRead` (ports selected,
    /// so the kernel returns few sockets, fast) the walk for just the sockets read, which
    /// stops once it has them all.
    static func find(only pids: Set<Int32>?, owners: OwnerSource?, lookForRead: Bool) -> OwnerScan {
        var note: String?
        if pids == nil && owners != .proc {
            do {
                return .done(try SocketOwners.iterate(), note: nil)
            } catch {
                if owners == .bpf { return .failed(error) }
                // Without root the walk is the way, not a fallback worth a word.
                if error.code != EPERM || geteuid() == 0 { note = error.reason }
            }
        }
        if lookForRead && pids == nil { return .walkForRead(note: note) }
        return .done(SocketOwners.scan(only: pids), note: note)
    }
}

/// The audit in a format, written as the connections come to standard output, or to a file
/// that replaces `path` atomically once the audit is whole. In Prometheus's format kernel mode's
/// counters follow the audit's metrics, so that the textfile collector carries them too.
public struct FormattedAudit: AuditSink {
    private let format: AuditFormat
    private var writer: any AuditWriter
    private var output: BufferedOutput
    public private(set) var warnings: [String] = []

    /// For `path`, its directory must exist.
    public init(_ format: AuditFormat, replacing path: String? = nil) throws(SystemError) {
        self.format = format
        writer = format.makeWriter()
        output = try path.map { path throws(SystemError) in try BufferedOutput(replacing: path) } ?? BufferedOutput()
    }

    public mutating func reserve(_ count: Int) { writer.reserve(count) }

    public mutating func add(_ connection: AuditedConnection) { writer.add(connection, to: &output) }

    public mutating func finish(_ summary: AuditSummary) throws {
        writer.finish(summary, to: &output)
        if format == .prometheus {
            let kernel = kernelCounterFamilies()
            output.write(kernel.text)
            warnings += kernel.warnings
        }
        try output.commit()
    }

    public mutating func discard() { output.discard() }
}

/// Kernel mode's counters, which follow the audit's Prometheus families; kernel mode that cannot
/// be read is a warning, not a failed audit.
func kernelCounterFamilies() -> (text: String, warnings: [String]) {
    do {
        let counters = try kernelCountersPrometheus()
        return (counters.text, counters.unreadable.map { "kernel mode's counters left out: \($0)" })
    } catch {
        return ("", ["kernel mode's counters left out: \(error)"])
    }
}

/// The connections of a run kept in memory, sorted by process and port: doctor's and fix's
/// few.
struct CollectedConnections: AuditSink {
    private(set) var connections: [AuditedConnection] = []

    mutating func reserve(_ count: Int) { connections.reserveCapacity(count) }

    mutating func add(_ connection: AuditedConnection) { connections.append(connection) }

    mutating func finish(_ summary: AuditSummary) {
        connections.sort { ($0.owner?.pid ?? .max, $0.record.local.port) < ($1.owner?.pid ?? .max, $1.record.local.port) }
    }

    mutating func discard() { connections = [] }
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
