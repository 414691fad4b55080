import ArgumentParser
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the shell commands that preload the shim: eval \"$(tcpkeep env --idle 60)\".",
        discussion: "LD_PRELOAD keeps what the current environment already preloads, after the shim."
    )

    @OptionGroup var settings: SettingsOptions

    func run() throws {
        try reportingFailures {
            let variables = launchEnvironment(
                settings: try settings.settings(), library: try locateShim(),
                existingPreload: getenv("LD_PRELOAD").map { String(cString: $0) })
            FileDescriptor.standardOutput.write(exportLines(variables))
        }
    }
}
