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
        let result = try runFix(FixRequest(pid: pid, ports: ports, listeners: listeners, settings: settings, dryRun: dryRun))
        Output.standardOutput.write(result.report)
        result.warnings.forEach(warn)
        return result.failed > 0 ? 1 : 0
    }
}
