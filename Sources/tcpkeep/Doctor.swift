import ArgumentParser
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say whether the shim reaches a program, a running process or a unit, and what to do when it does not.",
        discussion: """
            For a program: whether LD_PRELOAD reaches it (not a static, Go, set-user-ID, set-group-ID \
            or file-capability program). For a process: whether the shim is loaded (from \
            /proc/PID/maps), its connections' keepalive state and the settings in effect. For a unit: \
            both, for its ExecStart= program and its main process. Exit status 0 when the shim \
            reaches the target, 1 when it does not, 2 on errors.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: ArgumentHelp("A program: a path, or a command name searched in PATH.", valueName: "program"))
    var program: String?

    @Option(help: ArgumentHelp("A running process.", valueName: "pid"))
    var pid: Int32?

    @Option(help: ArgumentHelp("A systemd service: its program and its main process.", valueName: "unit"))
    var unit: String?

    @OptionGroup var root: RootOption

    @Option(help: "text or json.")
    var format: Format = .text

    func validate() throws {
        let given = [program != nil, pid != nil, unit != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("name one target: a PROGRAM, --pid N or --unit NAME") }
        if let pid, pid <= 0 { throw ValidationError("--pid: '\(pid)' is not a process ID") }
        if let unit {
            do {
                let name = try UnitName(unit)
                guard name.kind == .service else {
                    throw ValidationError("--unit: '\(unit)' is a socket unit; tcpkeep systemd \(unit) sets its KeepAlive=, and doctor checks its service")
                }
            } catch let error as SettingsError {
                throw ValidationError("--unit: \(error.description)")
            }
        }
        if root.root != nil && unit == nil { throw ValidationError("--root applies to --unit") }
    }

    func run() throws {
        try reportingFailures {
            let report: DoctorReport
            if let program {
                report = try inspectProgram(program)
            } else if let pid {
                report = try inspectProcess(pid, target: DoctorTarget(kind: .process, name: "\(pid)", pid: pid))
            } else {
                report = try inspectUnit(try! UnitName(unit!))
            }
            FileDescriptor.standardOutput.write(format == .json ? formatDoctorJSON(report) : formatDoctorText(report))
            if !report.reachable { throw ExitCode(1) }
        }
    }

    private func inspectProgram(_ name: String) throws -> DoctorReport {
        var candidates = commandCandidates(name, searchPath: getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin")
        // The shell runs the first executable file it finds for a bare name.
        if !name.contains("/") { candidates = candidates.filter { access($0, X_OK) == 0 && Files.regularFileMode($0) != nil } }
        guard let path = candidates.first, Files.regularFileMode(path) != nil else {
            throw Failure(message: name.contains("/") ? "\(name): no such file" : "\(name): command not found in PATH", status: 2)
        }
        guard let checked = checkProgram(candidates: [path]) else {
            throw Failure(message: "cannot read \(path): \(String(cString: strerror(errno)))", status: 2)
        }
        return DoctorReport(target: DoctorTarget(kind: .program, name: name, path: checked.path), obstacles: checked.obstacles)
    }

    /// The process's program, whether the shim is mapped, its connections and settings.
    private func inspectProcess(_ pid: Int32, target: DoctorTarget) throws -> DoctorReport {
        try requireProcess(pid, "--pid")
        guard let maps = try? Files.readText("/proc/\(pid)/maps") else {
            throw Failure(message: "cannot read /proc/\(pid)/maps to see what it loaded: another user's process needs root", status: 2)
        }
        var target = target
        target.pid = pid
        var report = DoctorReport(target: target, obstacles: [])
        if let executable = Files.readLink("/proc/\(pid)/exe") {
            report.target.path = report.target.path ?? executable
            // The running image, even when the file on disk was replaced or deleted.
            report.obstacles = checkProgram(candidates: ["/proc/\(pid)/exe"])?.obstacles ?? []
        }
        let shim = mappedShim(maps: maps, library: try? locateShim())
        report.shimLoaded = shim != nil
        var environment = (try? Files.read("/proc/\(pid)/environ")).flatMap { $0 }.map(shimVariables(environ:))
        if shim != nil, let variables = environment, !variables.contains(where: { $0.name == "LD_PRELOAD" }) {
            report.notes.append("the shim is loaded but LD_PRELOAD is not in /proc/\(pid)/environ: the process overwrote its environment area (redis does, for its process title), so the settings cannot be read there")
            environment = nil
        }
        let exact = canReadSockets
        let connections: ConnectionAudit
        do {
            connections = try ConnectionAudit(netDirectory: "/proc/\(pid)/net", selection: selection(pid), maxIdle: nil, exact: exact)
        } catch where exact {
            // Only reading the sockets' own options can fail here and not below: a /proc
            // error fails the second attempt too, and is reported.
            report.notes.append("each socket's own options could not be read (pidfd_getfd refused); the verdicts come from the kernel's timers")
            connections = try ConnectionAudit(netDirectory: "/proc/\(pid)/net", selection: selection(pid), maxIdle: nil, exact: false)
        }
        report.connections = connections.report
        let read = exact && connections.report.connections.contains { $0.options != nil }
        report.settings = DoctorSettings(environment: environment, sockets: read ? socketOptionGroups(connections.report) : nil)
        if !exact {
            report.notes.append("run as root to read each connection's own keepalive values")
        }
        if shim == nil {
            report.notes.append("the shim is not loaded: restart the program under tcpkeep run (or a unit with tcpkeep systemd UNIT --write); tcpkeep fix --pid \(pid) turns keepalive on for the connections it has open now")
        }
        let missing = report.connections?.count(.missing) ?? 0
        if missing > 0 {
            report.notes.append("\(missing) connection\(missing == 1 ? " lacks" : "s lack") keepalive: tcpkeep fix --pid \(pid) turns it on without a restart")
        }
        return report
    }

    private func selection(_ pid: Int32) -> AuditSelection {
        var selection = AuditSelection()
        selection.pids = [pid]
        return selection
    }

    /// Root or CAP_SYS_PTRACE, and not forbidden by Yama.
    private var canReadSockets: Bool { (try? requirePtraceRights("doctor")) != nil }

    private func inspectUnit(_ unit: UnitName) throws -> DoctorReport {
        let sources = UnitSources(unit: unit, root: root)
        guard sources.unitFile != nil else {
            throw Failure(message: "no unit file for \(unit) in \(unitSearchDirectories.map(root.onDisk).joined(separator: ", "))", status: 2)
        }
        guard let program = sources.program else { throw Failure(message: "\(unit) has no ExecStart=", status: 2) }
        var target = DoctorTarget(kind: .unit, name: unit.name, path: root.onDisk(program), unit: unit.name)
        var notes: [String] = []
        let checked = checkUnitProgram(program, root: root)
        if let checked { target.path = checked.path } else { notes.append("cannot read the unit's program \(root.onDisk(program))") }
        let socket = UnitSources(unit: try! UnitName(unit.name.dropLast(".service".count) + ".socket"), root: root)
        if socket.unitFile != nil {
            notes.append("\(socket.unit) passes sockets in, which LD_PRELOAD does not reach: tcpkeep systemd \(socket.unit) sets its KeepAlive=")
        }
        var report = DoctorReport(target: target, obstacles: checked?.obstacles ?? [], notes: notes)
        guard systemdIsRunning else {
            report.notes.append("systemd is not running here: checked the program alone")
            return report
        }
        guard root.isLiveSystem else {
            report.notes.append("--root \(root.root!) is not the running system: checked the program alone")
            return report
        }
        let shown = try runProgram(["systemctl", "show", "-p", "MainPID", "--value", unit.name])
        guard shown.status == 0, let pid = parseMainPID(shown.output) else {
            throw Failure(message: "systemctl show \(unit) failed", status: 2)
        }
        guard pid > 0 else {
            report.notes.append("\(unit) has no main process running: checked the program alone")
            return report
        }
        let process = try inspectProcess(pid, target: target)
        report.target.pid = pid
        report.shimLoaded = process.shimLoaded
        report.connections = process.connections
        report.settings = process.settings
        report.notes += process.notes
        return report
    }
}
