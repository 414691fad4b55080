import ArgumentParser
import TCPKeep

struct Sysctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print or write \(sysctlFilePath), the host's keepalive timing.",
        discussion: """
            Sets net.ipv4.tcp_keepalive_time, _intvl and _probes to the configured values. These only \
            retime sockets that already have keepalive on, in the network namespace that loads the \
            file; they never turn keepalive on. A file there that tcpkeep did not write is never replaced.
            """
    )

    @OptionGroup var settings: SettingsOptions
    @OptionGroup var file: GeneratedFileOptions

    @Flag(help: "Write the file (as --write does) and load it with sysctl -p into the sysctls of the network namespace tcpkeep runs in; --root only says where the file goes.")
    var apply = false

    func validate() throws {
        do {
            _ = try sysctlFile(settings: try settings.settings())
        } catch let error as SettingsError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        try reportingFailures {
            let content = try! sysctlFile(settings: try settings.settings())
            guard file.write || apply else { return FileDescriptor.standardOutput.write(content) }
            let path = file.onDisk(sysctlFilePath)
            _ = try install(content, at: path)
            guard apply else {
                return FileDescriptor.standardOutput.write("To load it now: sysctl -p \(path)\n")
            }
            let result = try runProgram(["sysctl", "-p", path])
            FileDescriptor.standardOutput.write(result.output)
            guard result.status == 0 else { throw Failure(message: "sysctl -p \(path) failed", status: 1) }
        }
    }
}
