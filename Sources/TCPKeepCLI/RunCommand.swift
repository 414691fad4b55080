import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct RunCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program with keepalive on for every TCP socket it creates.",
        discussion: """
            tcpkeep replaces itself with the program (same PID, so signals and the exit status are \
            the program's), with libtcpkeep.so put in front of any LD_PRELOAD already set. Settings \
            not given on the command line keep the values of KEEPIDLE, KEEPINTVL, KEEPCNT and \
            TCPKEEP_USER_TIMEOUT in the environment, or the system's. A musl program gets the musl \
            shim; tcpkeep refuses to preload a shim built for another C library or architecture.
            """
    )

    @OptionGroup var settings: ShimSettingsOptions

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The program and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    /// The command without the `--` that may stand before it.
    private var program: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        // Help is asked for before the program, where the command line is otherwise the program's.
        if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        guard !program.isEmpty else { throw ValidationError("missing the program to run, e.g. tcpkeep run --idle 60 -- redis-server") }
        // Everything from the first word that is not an option of ours is captured, so a
        // mistyped option would otherwise be run as the program.
        if let first = command.first, first != "--", first.hasPrefix("-") {
            throw ValidationError("Unknown option '\(first)'; put the program after --")
        }
    }

    func execute() throws -> Int32 {
        let settings = try settings.settings()
        try checkInheritedSettings(overriddenBy: settings)
        let variables = launchEnvironment(
            settings: settings, library: try locateShim(forProgram: program[0]), existingPreload: environmentValue("LD_PRELOAD"))
        try replaceProcess(with: program, environment: variables)
    }

    /// The shell's statuses when the program cannot be started: 127 not found, 126 not runnable.
    static func exitStatus(for error: any Error) -> Int32 {
        switch error {
        case ExecError.notFound: 127
        case ExecError.notRunnable: 126
        default: 2
        }
    }
}
