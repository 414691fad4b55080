import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

#if canImport(Glibc)
import Glibc
#endif

@main
struct TCPKeepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcpkeep",
        abstract: "Turn TCP keepalive on for programs that never asked for it.",
        version: "0.1.0",
        subcommands: [
            RunCommand.self, EnvCommand.self, AuditCommand.self, PlanCommand.self, SystemdCommand.self,
            SysctlCommand.self, DoctorCommand.self, FixCommand.self, KernelCommand.self, AgentCommand.self,
        ]
    )

    /// Usage errors exit 2, as the shell's own tools do, not ArgumentParser's 64.
    static func main() {
        if Array(CommandLine.arguments.dropFirst()) == ["--version"] {
            let shims = [ShimABI.native, ShimABI(ShimABI.native.architecture, .musl)].map { abi in
                (abi, Result { () throws(ShimNotFound) in try locateShim(for: abi) })
            }
            Output.standardOutput.write(versionText(version: configuration.version, shims: shims))
            return
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                Output.standardError.write(fullMessage(for: error) + "\n")
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// `--version`: the version, and the shims this tcpkeep would preload: into the host's
/// programs, and into musl ones.
func versionText(version: String, shims: [(abi: ShimABI, found: Result<String, ShimNotFound>)]) -> String {
    version + "\n" + shims.map { shim in
        switch shim.found {
        case .success(let path): "shim: \(path) (\(shim.abi) programs)\n"
        case .failure(let error): "shim: none found for \(shim.abi) programs (\(error))\n"
        }
    }.joined()
}

/// A tcpkeep command: it wires its options to an engine, and picks its exit status in one place.
protocol TCPKeepSubcommand: ParsableCommand {
    /// Does the command's work and returns the status of a run that finished: 0, or 1 for a
    /// negative verdict the command reports (a check that failed, a target not reached).
    func execute() throws -> Int32

    /// The exit status for an error `execute` threw: 2 unless the command says otherwise.
    static func exitStatus(for error: any Error) -> Int32
}

extension TCPKeepSubcommand {
    static func exitStatus(for error: any Error) -> Int32 { 2 }

    func run() throws {
        let status: Int32
        do {
            status = try execute()
        } catch {
            status = refuse("\(error)", status: Self.exitStatus(for: error))
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Says on standard error, on one line, why the run ends without an answer, and returns
    /// its exit status: an error, or a verdict that is none (a check that cannot vouch).
    func refuse(_ message: String, status: Int32 = 2) -> Int32 {
        Output.standardError.write("tcpkeep: \(terminalSafe(message))\n")
        return status
    }
}
