import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct DoctorCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Say whether the shim reaches a program, a running process or a unit, and what to do when it does not.",
        discussion: """
            For a program: whether LD_PRELOAD reaches it (not a static, Go, set-user-ID, set-group-ID \
            or file-capability program). For a process: whether the shim is loaded (from \
            /proc/PID/maps), its connections' keepalive state and the settings in effect. For a unit: \
            both, for its ExecStart= program and its main process. Exit status 0 when the shim \
            reaches the target, 1 when it does not, 2 on errors.
            """
    )

    @Argument(help: ArgumentHelp("A program: a path, or a command name searched in PATH.", valueName: "program"))
    var program: String?

    @Option(help: ArgumentHelp("A running process.", valueName: "pid"), completion: .processIDs)
    var pid: Int32?

    @Option(help: ArgumentHelp("A systemd service: its program and its main process.", valueName: "unit"), completion: .services, transform: Parse.unitName)
    var unit: UnitName?

    @OptionGroup var root: RootOption

    @Option(help: "text or json.")
    var format: DoctorFormat = .text

    func validate() throws {
        let given = [program != nil, pid != nil, unit != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("name one target: a PROGRAM, --pid N or --unit NAME") }
        if let pid, pid <= 0 { throw ValidationError("--pid: '\(pid)' is not a process ID") }
        if let unit, unit.kind != .service {
            throw ValidationError("--unit: '\(unit)' is a socket unit; tcpkeep systemd \(unit) sets its KeepAlive=, and doctor checks its service")
        }
        if root.path != nil && unit == nil { throw ValidationError("--root applies to --unit") }
    }

    func execute() throws -> Int32 {
        let report: DoctorReport
        if let program {
            report = try inspectProgram(program)
        } else if let pid {
            report = try inspectProcess(pid)
        } else {
            report = try inspectUnit(unit!, root: root.root)
        }
        Output.standardOutput.write(format.render(report))
        return report.reachable ? 0 : 1
    }
}
