import CLinux
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// What `tcpkeep fix` is asked to change.
public struct FixRequest: Sendable {
    public var pid: Int32
    public var ports: [PortRange]
    /// Listening sockets too, so that connections accepted later inherit the values.
    public var listeners: Bool
    public var settings: KeepaliveSettings
    public var dryRun: Bool

    public init(pid: Int32, ports: [PortRange], listeners: Bool, settings: KeepaliveSettings, dryRun: Bool) {
        self.pid = pid
        self.ports = ports
        self.listeners = listeners
        self.settings = settings
        self.dryRun = dryRun
    }
}

/// What `tcpkeep fix` did: its report, and the connections it could not change.
public struct FixResult: Sendable {
    /// What changed or would change, for standard output.
    public var report: String
    /// One line each, for standard error.
    public var warnings: [String]
    public var failed: Int
}

/// `tcpkeep fix`: the connections changed (see `fixConnections`), reported.
public func runFix(_ request: FixRequest) throws -> FixResult {
    let fixed = try fixConnections(request)
    guard !fixed.isEmpty else {
        return FixResult(report: nothingToChangeText(pid: request.pid, ports: request.ports, listeners: request.listeners), warnings: [], failed: 0)
    }
    var warnings: [String] = []
    if setsKeepaliveAlone(request.settings) {
        warnings.append("no keepalive values given: only SO_KEEPALIVE is set, and the system's timing (net.ipv4.tcp_keepalive_time, _intvl, _probes) applies")
    }
    let failed = fixed.filter { $0.failure != nil }.count
    if failed > 0 { warnings.append("\(failed) connection\(failed == 1 ? "" : "s") could not be changed") }
    let report = formatFixReport(pid: request.pid, settings: request.settings, fixed: fixed, dryRun: request.dryRun)
    return FixResult(report: report, warnings: warnings, failed: failed)
}

/// Turns keepalive on for the connections a running process has open: the process's own
/// network namespace is read (a container's connections are in its), every target is
/// duplicated with pidfd_getfd before the first change, so that a refusal changes nothing,
/// then each duplicate, still the same TCP socket, gets the options. An empty result means
/// nothing matched.
private func fixConnections(_ request: FixRequest) throws -> [FixedConnection] {
    try requirePtraceRights("fix", verb: "changes")
    try requireProcess(request.pid, "--pid")
    var selection = AuditSelection()
    selection.pids = [request.pid]
    selection.allStates = request.listeners
    selection.ports = request.ports
    // The process's own namespace, read from /proc: a few sockets.
    var found = CollectedConnections()
    let audit = try runAudit(AuditRequest(netnsOf: request.pid, selection: selection, source: .proc), into: &found)
    if audit.summary.gaps.unreadableProcesses > 0 { throw ptraceAccessFailure(EPERM, pid: request.pid) }
    let targets = found.connections.filter { [.established, .listen].contains($0.record.state) }.compactMap { connection in
        connection.fd.map { (record: connection.record, owner: OwnerDescriptor(pid: request.pid, fd: $0)) }
    }
    var fixed = try change(targets, to: request.settings, dryRun: request.dryRun)
    if !request.dryRun && !fixed.isEmpty {
        let after = Dictionary(try readSocketRecords("/proc/\(request.pid)/net").map { ($0.inode, $0) }, uniquingKeysWith: { first, _ in first })
        for index in fixed.indices { fixed[index].after = after[fixed[index].before.inode] }
    }
    return fixed
}

private func change(
    _ targets: [(record: SocketRecord, owner: OwnerDescriptor)], to settings: KeepaliveSettings, dryRun: Bool
) throws(PtraceRefused) -> [FixedConnection] {
    var peers = PeerSockets()
    defer { peers.close() }
    var duplicates: [(record: SocketRecord, owner: OwnerDescriptor, fd: Int32)] = []
    defer { duplicates.forEach { _ = close($0.fd) } }
    for target in targets {
        // A descriptor closed since the scan is skipped; one reused for another socket too.
        guard let fd = try peers.duplicate(target.owner) else { continue }
        duplicates.append((target.record, target.owner, fd))
    }
    var values = tcpkeep_keepalive_options(
        keepalive: 1,
        values: (
            Int32(settings.idle ?? -1), Int32(settings.interval ?? -1), Int32(settings.count ?? -1),
            Int32(settings.userTimeout ?? -1)))
    var fixed: [FixedConnection] = []
    for duplicate in duplicates where isSameTCPSocket(duplicate.fd, inode: duplicate.record.inode) {
        var connection = FixedConnection(before: duplicate.record, fd: duplicate.owner.fd, optionsBefore: keepaliveOptions(duplicate.fd))
        if !dryRun {
            var option: UnsafePointer<CChar>? = nil
            if tcpkeep_write_keepalive_options(duplicate.fd, &values, &option) != 0 {
                let code = errno
                connection.failure = "\(option.map { String(cString: $0) } ?? "setsockopt"): \(errorText(code))"
            }
            connection.optionsAfter = keepaliveOptions(duplicate.fd)
        }
        fixed.append(connection)
    }
    return fixed
}
