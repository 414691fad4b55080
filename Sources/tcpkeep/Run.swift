import ArgumentParser
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program with keepalive on for every TCP socket it creates.",
        discussion: """
            tcpkeep replaces itself with the program (same PID, so signals and the exit status are \
            the program's), with libtcpkeep.so put in front of any LD_PRELOAD already set. Settings \
            not given on the command line keep the values of KEEPIDLE, KEEPINTVL, KEEPCNT and \
            TCPKEEP_USER_TIMEOUT in the environment, or the system's.
            """
    )

    @OptionGroup var settings: SettingsOptions

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The program and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    /// The command without the `--` that may stand before it.
    private var program: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        guard !program.isEmpty else { throw ValidationError("missing the program to run, e.g. tcpkeep run --idle 60 -- redis-server") }
        // Everything from the first word that is not an option of ours is captured, so a
        // mistyped option would otherwise be run as the program.
        if let first = command.first, first != "--", first.hasPrefix("-") {
            throw ValidationError("Unknown option '\(first)'; put the program after --")
        }
    }

    func run() throws {
        try reportingFailures {
            let settings = try settings.settings()
            try checkInheritedSettings(overriddenBy: settings)
            let variables = launchEnvironment(
                settings: settings, library: try locateShim(),
                existingPreload: getenv("LD_PRELOAD").map { String(cString: $0) })
            for variable in variables {
                setenv(variable.name, variable.value, 1)
            }
            try replaceProcess(with: program)
        }
    }
}

/// A value inherited from the environment that the shim would refuse is refused here, before
/// the program starts, rather than reported by the shim once it runs.
private func checkInheritedSettings(overriddenBy settings: KeepaliveSettings) throws {
    let overridden = Set(settings.environment.map(\.name))
    func inherited(_ variable: String) -> String? {
        overridden.contains(variable) ? nil : getenv(variable).map { String(cString: $0) }
    }
    for option in KeepaliveOption.allCases {
        guard let value = inherited(option.variable) else { continue }
        do {
            try option.checkEnvironmentValue(value)
        } catch {
            throw Failure(message: "\(error.description); set it right or override it with \(option.flag)", status: 2)
        }
    }
    if let value = inherited("KEEPALIVE") {
        guard let on = shimSwitch(value) else {
            throw Failure(message: "KEEPALIVE='\(value)' in the environment is invalid: the shim takes on or off", status: 2)
        }
        guard on else {
            throw Failure(message: "KEEPALIVE='\(value)' in the environment turns the shim off for every socket; unset it", status: 2)
        }
    }
    if let value = inherited("TCPKEEP_ENFORCE"), shimSwitch(value) == nil {
        throw Failure(message: "TCPKEEP_ENFORCE='\(value)' in the environment is invalid: the shim takes on or off; or use --enforce", status: 2)
    }
    if let value = inherited("TCPKEEP_LOG"), ShimLogLevel(rawValue: value.lowercased()) == nil {
        throw Failure(message: "TCPKEEP_LOG='\(value)' in the environment is invalid: the shim takes quiet, error or debug; or use --log", status: 2)
    }
}

/// execvp, with the shell's exit statuses when it fails: 127 not found, 126 not runnable.
private func replaceProcess(with program: [String]) throws -> Never {
    let arguments = program.map { strdup($0) } + [nil]
    execvp(program[0], arguments)
    let error = errno
    let reason = String(cString: strerror(error))
    if error == ENOENT {
        throw Failure(message: "\(program[0]): command not found", status: 127)
    }
    throw Failure(message: "cannot run \(program[0]): \(reason)", status: 126)
}
