import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct EnvCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print the shell commands that preload the shim: eval \"$(tcpkeep env --idle 60)\".",
        discussion: "LD_PRELOAD keeps what the current environment already preloads, after the shim."
    )

    @OptionGroup var settings: ShimSettingsOptions

    @Option(name: .customLong("for"), help: ArgumentHelp("The shim that fits this program (a musl one gets the musl shim).", valueName: "program"))
    var program: String?

    func execute() throws -> Int32 {
        let library = try program.map(locateShim(forProgram:)) ?? locateShim()
        let variables = launchEnvironment(
            settings: try settings.settings(), library: library, existingPreload: environmentValue("LD_PRELOAD"))
        Output.standardOutput.write(exportLines(variables))
        return 0
    }
}
