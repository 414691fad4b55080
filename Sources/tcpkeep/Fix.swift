import ArgumentParser
import CLinux
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

struct Fix: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn keepalive on for the TCP connections a running process already has.",
        discussion: """
            Duplicates each established TCP socket of the process (and with --listeners each \
            listening one, whose accepted connections inherit the options) with pidfd_getfd and sets \
            SO_KEEPALIVE and the given values on the duplicate, which is the same socket: the \
            connection changes at once and the process is not restarted. Needs root or \
            CAP_SYS_PTRACE and Linux 5.6+; without them nothing is changed. Sockets the process \
            opens later are the shim's job (tcpkeep run, tcpkeep systemd).
            """
    )

    @Option(help: ArgumentHelp("The process whose connections to change.", valueName: "pid"))
    var pid: Int32

    @Option(name: .customLong("port"), help: ArgumentHelp("Only connections with this local or remote port or range; repeatable.", valueName: "port"))
    var ports: [String] = []

    @OptionGroup var settings: SettingsOptions

    @Flag(help: "Also its listening sockets, so that the connections it accepts from now on inherit the values.")
    var listeners = false

    @Flag(help: "Report what would change, and change nothing.")
    var dryRun = false

    func validate() throws {
        guard pid > 0 else { throw ValidationError("--pid: '\(pid)' is not a process ID") }
        _ = try selection()
        if settings.enforce { throw ValidationError("--enforce applies to the shim's setsockopt hook; fix sets the values once") }
        if settings.log != nil { throw ValidationError("--log applies to the shim; fix reports every connection it changes") }
    }

    private func selection() throws -> AuditSelection {
        var selection = AuditSelection()
        selection.pids = [pid]
        selection.allStates = listeners
        selection.ports = try portRanges(ports)
        return selection
    }

    func run() throws {
        try reportingFailures {
            let settings = try settings.settings()
            try requirePtraceRights("fix", verb: "changes")
            try requireProcess(pid, "--pid")
            // The process's own network namespace: a container's connections are in its.
            let directory = "/proc/\(pid)/net"
            let found = try ConnectionAudit(netDirectory: directory, selection: try selection(), maxIdle: nil, exact: false)
            let targets = found.report.connections.filter { [.established, .listen].contains($0.record.state) }.compactMap { connection in
                found.holders[connection.record.inode].map { (record: connection.record, holder: $0) }
            }
            if found.report.gaps.unreadableProcesses > 0 { throw ptraceAccessFailure(EPERM, pid: pid) }
            guard !targets.isEmpty else {
                let filter = ports.isEmpty ? "" : " with port \(ports.joined(separator: " or "))"
                let what = listeners ? "established or listening TCP sockets" : "established TCP connections"
                return FileDescriptor.standardOutput.write("nothing to change: pid \(pid) has no \(what)\(filter)\n")
            }
            if setsKeepaliveAlone(settings) {
                warn("no keepalive values given: only SO_KEEPALIVE is set, and the system's timing (net.ipv4.tcp_keepalive_time, _intvl, _probes) applies")
            }
            var fixed = try change(targets, to: settings)
            if !dryRun {
                let after = Dictionary(
                    try readSocketRecords(directory).map { ($0.inode, $0) }, uniquingKeysWith: { first, _ in first })
                for index in fixed.indices { fixed[index].after = after[fixed[index].before.inode] }
            }
            FileDescriptor.standardOutput.write(formatFixReport(pid: pid, settings: settings, fixed: fixed, dryRun: dryRun))
            let failed = fixed.filter { $0.failure != nil }.count
            if failed > 0 { throw Failure(message: "\(failed) connection\(failed == 1 ? "" : "s") could not be changed", status: 1) }
        }
    }

    /// Duplicates every target first, so that a refusal (rights, kernel) comes before the
    /// first change, then sets the options on each duplicate and reads them back.
    private func change(_ targets: [(record: SocketRecord, holder: SocketHolder)], to settings: KeepaliveSettings) throws -> [FixedConnection] {
        var peers = PeerSockets()
        defer { peers.close() }
        var duplicates: [(record: SocketRecord, holder: SocketHolder, fd: Int32)] = []
        defer { duplicates.forEach { _ = close($0.fd) } }
        for target in targets {
            // A descriptor closed since the scan is skipped; one reused for another socket too.
            guard let fd = try peers.duplicate(target.holder) else { continue }
            duplicates.append((target.record, target.holder, fd))
        }
        var values = tcpkeep_keepalive_options(
            keepalive: 1, idle: Int32(settings.idle ?? -1), interval: Int32(settings.interval ?? -1),
            count: Int32(settings.count ?? -1), user_timeout: Int32(settings.userTimeout ?? -1))
        var fixed: [FixedConnection] = []
        for duplicate in duplicates where isSameTCPSocket(duplicate.fd, inode: duplicate.record.inode) {
            var connection = FixedConnection(before: duplicate.record, fd: duplicate.holder.fd, optionsBefore: keepaliveOptions(duplicate.fd))
            if !dryRun {
                var option: UnsafePointer<CChar>? = nil
                if tcpkeep_write_keepalive_options(duplicate.fd, &values, &option) != 0 {
                    connection.failure = "\(option.map { String(cString: $0) } ?? "setsockopt"): \(String(cString: strerror(errno)))"
                }
                connection.optionsAfter = keepaliveOptions(duplicate.fd)
            }
            fixed.append(connection)
        }
        return fixed
    }
}

