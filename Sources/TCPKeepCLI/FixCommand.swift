import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct FixCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "fix",
        abstract: "Turn keepalive on for the TCP connections a running process already has.",
        discussion: """
            Duplicates each established TCP socket of the process (and with --listeners each \
            listening one, whose accepted connections inherit the options) with pidfd_getfd and sets \
            SO_KEEPALIVE and the given values on the duplicate, which is the same socket: the \
            connection changes at once and the process is not restarted. Needs root or \
            CAP_SYS_PTRACE and Linux 5.6+; without them nothing is changed. Sockets the process \
            opens later are the shim's job (tcpkeep run, tcpkeep systemd). Exit status 0 when every \
            connection was changed, 1 when some could not be, 2 on errors.
            """
    )

    @Option(help: ArgumentHelp("The process whose connections to change.", valueName: "pid"), completion: .processIDs)
    var pid: Int32

    @Option(name: .customLong("port"), help: ArgumentHelp("Only connections with this local or remote port or range; repeatable.", valueName: "port"), transform: Parse.portRange)
    var ports: [PortRange] = []

    @OptionGroup var timing: TimingOptions
    @OptionGroup var timeout: UserTimeoutOption

    @Flag(help: "Also its listening sockets, so that the connections it accepts from now on inherit the values.")
    var listeners = false

    @Flag(help: "Report what would change, and change nothing.")
    var dryRun = false

    func validate() throws {
        guard pid > 0 else { throw ValidationError("--pid: '\(pid)' is not a process ID") }
    }

    func execute() throws -> Int32 {
        let settings = try timing.resolve(userTimeout: timeout.userTimeout)
        let fixed = try fixConnections(
            FixRequest(pid: pid, ports: ports, listeners: listeners, settings: settings, dryRun: dryRun))
        guard !fixed.isEmpty else {
            Output.standardOutput.write(nothingToChangeText(pid: pid, ports: ports, listeners: listeners))
            return 0
        }
        if setsKeepaliveAlone(settings) {
            warn("no keepalive values given: only SO_KEEPALIVE is set, and the system's timing (net.ipv4.tcp_keepalive_time, _intvl, _probes) applies")
        }
        Output.standardOutput.write(formatFixReport(pid: pid, settings: settings, fixed: fixed, dryRun: dryRun))
        let failed = fixed.filter { $0.failure != nil }.count
        if failed > 0 { warn("\(failed) connection\(failed == 1 ? "" : "s") could not be changed") }
        return failed > 0 ? 1 : 0
    }
}
