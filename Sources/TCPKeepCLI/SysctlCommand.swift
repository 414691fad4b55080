import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct SysctlCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "sysctl",
        abstract: "Print or write \(sysctlFilePath), the host's keepalive timing.",
        discussion: """
            Sets net.ipv4.tcp_keepalive_time, _intvl and _probes to the configured values. These only \
            retime sockets that already have keepalive on, in the network namespace that loads the \
            file; they never turn keepalive on. A file there that tcpkeep did not write is never \
            replaced. Exit status 0, 1 when the file could not be written or loaded, 2 on usage errors.
            """
    )

    @OptionGroup var timing: TimingOptions

    @Flag(help: "Write the file instead of printing it.")
    var write = false

    @OptionGroup var root: RootOption

    @Flag(help: "Write the file (as --write does) and load it with sysctl -p into the sysctls of the network namespace tcpkeep runs in; --root only says where the file goes.")
    var apply = false

    func validate() throws {
        if apply && root.path != nil {
            throw ValidationError("--apply loads the file into this host's sysctls, and --root says it is another system's; leave one out")
        }
    }

    func execute() throws -> Int32 {
        let content = try sysctlFile(settings: try timing.resolve())
        guard write || apply else {
            Output.standardOutput.write(content)
            return 0
        }
        let path = root.root.resolve(sysctlFilePath)
        Output.standardOutput.write(changeLine(try writeGeneratedFile(content, at: path), path))
        guard apply else {
            Output.standardOutput.write(
                root.root.isLiveSystem
                    ? "To load it now: sysctl -p \(path)\n" : "That system loads it when it boots (systemd-sysctl).\n")
            return 0
        }
        Output.standardOutput.write(try loadSysctlFile(path))
        return 0
    }

    static func exitStatus(for error: any Error) -> Int32 { configurationExitStatus(for: error) }
}
