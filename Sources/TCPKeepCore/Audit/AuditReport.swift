/// The process holding a socket, and the systemd unit it runs in.
public struct SocketOwner: Equatable, Sendable {
    public var pid: Int32
    /// The process name (/proc/PID/comm), which the process sets itself.
    public var process: ForeignText
    /// The executable's path, when it could be read.
    public var executable: ForeignText?
    public var unit: String?
    /// The container and Kubernetes pod its cgroup names, if any.
    public var container: String?
    public var pod: String?

    public init(pid: Int32, process: ForeignText, executable: ForeignText?, unit: String?, container: String? = nil, pod: String? = nil) {
        self.pid = pid
        self.process = process
        self.executable = executable
        self.unit = unit
        self.container = container
        self.pod = pod
    }
}

/// A socket with what the audit found out about it.
public struct AuditedConnection: Equatable, Sendable {
    public var record: SocketRecord
    public var owner: SocketOwner?
    /// The descriptor the owner holds it as.
    public var fd: Int32?
    public var options: SocketOptions?
    public var status: KeepaliveStatus
    /// The inode of the network namespace the socket lives in, when the audit covers several.
    public var netns: UInt64?

    public init(
        record: SocketRecord, owner: SocketOwner?, fd: Int32? = nil, options: SocketOptions?, status: KeepaliveStatus, netns: UInt64? = nil
    ) {
        self.record = record
        self.owner = owner
        self.fd = fd
        self.options = options
        self.status = status
        self.netns = netns
    }
}

/// Where the audit reads sockets: netlink's sock_diag (as `ss` does) or /proc/net/tcp and tcp6.
public enum AuditSource: String, CaseIterable, Sendable {
    case netlink, proc
}

/// How the audit finds the process holding each socket: a BPF iterator over every process's
/// open files (root; one pass in the kernel) or every /proc/PID/fd link.
public enum OwnerSource: String, CaseIterable, Sendable {
    case bpf, proc
}

/// How one network namespace was read, for the summary.
public struct NamespaceRead: Equatable, Sendable {
    /// The namespace's inode; nil for the audit's own namespace when only one is read.
    public var netns: UInt64?
    /// How its sockets were read; nil when they could not be.
    public var source: AuditSource?
    /// Why another source was used, or why nothing could be read.
    public var note: String?

    public init(netns: UInt64?, source: AuditSource?, note: String? = nil) {
        self.netns = netns
        self.source = source
        self.note = note
    }
}

/// Everything an audit says besides its connections: counts per status, what it could not
/// see, and how it read each namespace. Kept while the connections stream past.
public struct AuditSummary: Equatable, Sendable {
    /// Connections per status, in `KeepaliveStatus.allCases` order.
    public private(set) var counts = [Int](repeating: 0, count: KeepaliveStatus.allCases.count)
    public var gaps: AuditGaps
    public var namespaces: [NamespaceRead]
    /// How the audit mapped sockets to processes; nil in a report that does not say (doctor's).
    public var owners: OwnerSource?
    /// Why the BPF iterator was wanted and could not be had.
    public var ownersNote: String?

    public init(gaps: AuditGaps = AuditGaps(), namespaces: [NamespaceRead] = []) {
        self.gaps = gaps
        self.namespaces = namespaces
    }

    public mutating func add(_ status: KeepaliveStatus) {
        counts[KeepaliveStatus.allCases.firstIndex(of: status)!] += 1
    }

    public func count(_ status: KeepaliveStatus) -> Int {
        counts[KeepaliveStatus.allCases.firstIndex(of: status)!]
    }

    public var connections: Int { counts.reduce(0, +) }

    public var hasFailures: Bool { KeepaliveStatus.allCases.contains { $0.isFailure && count($0) > 0 } }

    /// What `audit --check` concludes about this audit of `selection`.
    public func checkVerdict(for selection: AuditSelection) -> CheckVerdict {
        // Sockets unmapped for lack of rights may be the selection's; those of processes that
        // exited meanwhile are no one's.
        if selection.filtersOwners && gaps.unmappedSockets > 0 && gaps.unreadableProcesses > 0 {
            return .cannotVouch(
                "--check cannot vouch for the selection: \(gaps.unmappedSockets) sockets could not be mapped to a process (\(gaps.reason ?? "unknown")); run as root")
        }
        // A namespace that could not be read may hold the failures.
        let unread = namespaces.filter { $0.source == nil }
        if !unread.isEmpty && !hasFailures {
            return .cannotVouch(
                "--check cannot vouch for the selection: \(unread.count) network namespaces could not be read (\(unread[0].note ?? "unknown")); run as root")
        }
        if hasFailures { return .fail }
        return connections == 0 ? .nothingSelected : .pass
    }
}

/// What the audit could not see, for the summary.
public struct AuditGaps: Equatable, Sendable {
    /// Selected sockets with an inode that no readable /proc/PID/fd refers to.
    public var unmappedSockets: Int
    /// Processes whose open files could not be read, and why.
    public var unreadableProcesses: Int
    public var reason: String?

    public init(unmappedSockets: Int = 0, unreadableProcesses: Int = 0, reason: String? = nil) {
        self.unmappedSockets = unmappedSockets
        self.unreadableProcesses = unreadableProcesses
        self.reason = reason
    }
}

/// The outcome of `audit --check`.
public enum CheckVerdict: Equatable, Sendable {
    /// Every selected connection would notice a vanished peer in time.
    case pass
    /// A selected connection is missing keepalive or has it too late.
    case fail
    /// No connection matched the selection.
    case nothingSelected
    /// Sockets that may be the selection's could not be read.
    case cannotVouch(String)

    /// Why the check cannot conclude, for the two verdicts that are no answer.
    public var refusal: String? {
        switch self {
        case .pass, .fail: nil
        case .nothingSelected:
            "--check: no connection matched the selection, and a check over nothing proves nothing (is a --process, --unit, --pid or --port misspelled?)"
        case .cannotVouch(let reason): reason
        }
    }
}

/// A port or an inclusive range of ports: `7000`, `17000-17002`.
public struct PortRange: Equatable, Sendable, CustomStringConvertible {
    public let range: ClosedRange<UInt16>

    public var description: String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }

    public init?(_ text: String) {
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
            parseWholeNumber(String($0)).flatMap(UInt16.init(exactly:))
        }
        guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high else { return nil }
        range = low...high
    }
}

/// Which sockets an audit reports.
public struct AuditSelection: Sendable {
    public var ports: [PortRange] = []
    public var pids: Set<Int32> = []
    public var processes: Set<String> = []
    public var units: Set<String> = []
    /// Every state, not only ESTABLISHED.
    public var allStates = false

    public init() {}

    /// Whether an owner filter is given: sockets with no known owner are then left out.
    public var filtersOwners: Bool { !pids.isEmpty || !processes.isEmpty || !units.isEmpty }

    /// The filters that a /proc row alone decides: state and port.
    public func selects(_ record: SocketRecord) -> Bool {
        guard allStates || record.state == .established else { return false }
        return ports.isEmpty || ports.contains { $0.range.contains(record.local.port) || $0.range.contains(record.remote.port) }
    }

    /// The owner filters; a process matches by its name or its executable's file name, a unit
    /// by its full name or without `.service`.
    public func selects(_ owner: SocketOwner?) -> Bool {
        guard filtersOwners else { return true }
        guard let owner else { return false }
        if !pids.isEmpty && !pids.contains(owner.pid) { return false }
        if !processes.isEmpty {
            let executableName = owner.executable.flatMap { $0.bytes.split(separator: UInt8(ascii: "/")).last }
                .map { String(decoding: $0, as: UTF8.self) }
            guard processes.contains(owner.process.string) || executableName.map(processes.contains) == true else { return false }
        }
        if !units.isEmpty {
            guard let unit = owner.unit, units.contains(unit) || units.contains(where: { "\($0).service" == unit }) else { return false }
        }
        return true
    }
}
