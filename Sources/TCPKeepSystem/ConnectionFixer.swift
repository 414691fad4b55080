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

/// Turns keepalive on for the connections a running process has open: the process's own
/// network namespace is read (a container's connections are in its), every target is
/// duplicated with pidfd_getfd before the first change, so that a refusal changes nothing,
/// then each duplicate, still the same TCP socket, gets the options. An empty result means
/// nothing matched.
public func fixConnections(_ request: FixRequest) throws -> [FixedConnection] {
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
