import ArgumentParser
import Dispatch
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which live TCP connections would hang forever if their peer vanished.",
        discussion: """
            Reads /proc/net/tcp and tcp6, maps each socket to its process and systemd unit, and \
            classifies each ESTABLISHED connection: ok (keepalive timer pending), missing (no \
            timer: keepalive is off), too-slow (later than --max-idle), probing (probes going \
            unanswered now), unknown (a retransmit or zero-window timer hides the keepalive one).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, prometheus
    }

    @Option(help: ArgumentHelp("Audit the network namespace of this process (a container's).", valueName: "pid"))
    var netnsOf: Int32?

    @Flag(help: "Every TCP state, not only ESTABLISHED.")
    var all = false

    @Option(help: ArgumentHelp("Flag connections whose keepalive comes later than this: e.g. 5m.", valueName: "duration"))
    var maxIdle: String?

    @Flag(help: "Read each socket's real keepalive options through pidfd_getfd (root; Linux 5.6+).")
    var exact = false

    @Option(name: .customLong("port"), help: ArgumentHelp("A local or remote port or range, e.g. 6379 or 17000-17002; repeatable.", valueName: "port"))
    var ports: [String] = []

    @Option(name: .customLong("pid"), help: ArgumentHelp("Only this process's connections; repeatable.", valueName: "pid"))
    var pids: [Int32] = []

    @Option(name: .customLong("process"), help: ArgumentHelp("Only processes of this name or executable; repeatable.", valueName: "name"))
    var processes: [String] = []

    @Option(name: .customLong("unit"), help: ArgumentHelp("Only processes of this systemd unit; repeatable.", valueName: "unit"))
    var units: [String] = []

    @Option(help: "table, json or prometheus.")
    var format: Format = .table

    @Option(help: ArgumentHelp("Write the result to this file, replacing it atomically, instead of to standard output.", valueName: "path"))
    var output: String?

    @Flag(help: "Exit 1 when a selected connection is missing keepalive or too slow.")
    var check = false

    func validate() throws {
        _ = try selection()
        _ = try maxIdleSeconds()
    }

    private func selection() throws -> AuditSelection {
        var selection = AuditSelection()
        selection.ports = try portRanges(ports)
        selection.pids = Set(pids)
        selection.processes = Set(processes)
        selection.units = Set(units)
        selection.allStates = all
        return selection
    }

    private func maxIdleSeconds() throws -> Int? {
        guard let maxIdle else { return nil }
        guard let seconds = parseDuration(maxIdle, in: .seconds), seconds > 0 else {
            throw ValidationError("--max-idle: '\(maxIdle)' is not a duration in whole seconds above 0 (90, 90s, 5m, 2h)")
        }
        return seconds
    }

    func run() throws {
        try reportingFailures {
            let selection = try selection()
            let report = try audit(selection: selection, maxIdle: try maxIdleSeconds())
            let text = switch format {
            case .table: formatAuditTable(report)
            case .json: formatAuditJSON(report)
            case .prometheus: formatAuditPrometheus(report)
            }
            if let output {
                do {
                    try Files.writeAtomically(text, to: output)
                } catch let error as Failure {
                    throw error.asAuditError
                }
            } else {
                FileDescriptor.standardOutput.write(text)
            }
            guard check else { return }
            // Sockets unmapped for lack of rights may be the selection's; those of processes
            // that exited meanwhile are no one's.
            if selection.filtersOwners && report.gaps.unmappedSockets > 0 && report.gaps.unreadableProcesses > 0 {
                throw Failure(
                    message: "--check cannot vouch for the selection: \(report.gaps.unmappedSockets) sockets could not be mapped to a process (\(report.gaps.reason ?? "unknown")); run as root",
                    status: 2)
            }
            if report.connections.isEmpty { warn("no connection matched the selection") }
            if report.hasFailures { throw ExitCode(1) }
        }
    }

    private func audit(selection: AuditSelection, maxIdle: Int?) throws -> AuditReport {
        if exact { try requirePtraceRights("--exact") }
        if let pid = netnsOf { try requireProcess(pid, "--netns-of") }
        for pid in selection.pids { try requireProcess(pid, "--pid") }
        let directory = netnsOf.map { "/proc/\($0)/net" } ?? "/proc/net"
        return try ConnectionAudit(netDirectory: directory, selection: selection, maxIdle: maxIdle, exact: exact).report
    }
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

/// The rows of tcp and tcp6 in `directory` (/proc/net or /proc/PID/net); errors exit 2.
func readSocketRecords(_ directory: String) throws -> [SocketRecord] {
    var records: [SocketRecord] = []
    for name in ["tcp", "tcp6"] {
        let path = "\(directory)/\(name)"
        do {
            guard let text = try Files.read(path) else {
                // A kernel without IPv6 has no tcp6.
                if name == "tcp6" { continue }
                throw Failure(message: "\(path) does not exist", status: 2)
            }
            records += try parseProcNetTCP(text, file: path)
        } catch let error as ProcParseError {
            throw Failure(message: error.description, status: 2)
        } catch let error as Failure {
            throw error.asAuditError
        }
    }
    return records
}

/// The `--port` values, checked.
func portRanges(_ ports: [String]) throws -> [PortRange] {
    try ports.map { port in
        guard let range = PortRange(port) else {
            throw ValidationError("--port: '\(port)' is not a port (0 to 65535) or a range such as 17000-17002")
        }
        return range
    }
}

/// Refuses a PID with no process behind it.
func requireProcess(_ pid: Int32, _ flag: String) throws {
    guard pid > 0, access("/proc/\(pid)", F_OK) == 0 else { throw Failure(message: "\(flag) \(pid): no such process", status: 2) }
}

extension Failure {
    /// The audit's errors exit 2: 1 is what --check reports.
    var asAuditError: Failure { Failure(message: message, status: 2) }
}
