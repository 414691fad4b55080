import CTCPKeepBPF
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// What `tcpkeep doctor` could not look at.
public struct DoctorError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// `tcpkeep doctor PROGRAM`: the program a path or command name (searched in PATH like the
/// shell) names, judged from its file.
public func inspectProgram(_ name: String) throws -> DoctorReport {
    let searchPath = environmentValue("PATH") ?? "/usr/bin:/bin"
    var candidates = commandCandidates(name, searchPath: searchPath)
    // The shell runs the first executable file it finds for a bare name.
    if !name.contains("/") { candidates = candidates.filter { access($0, X_OK) == 0 && Files.regularFileMode($0) != nil } }
    guard let path = candidates.first else { throw DoctorError(description: "\(name): command not found in PATH") }
    let checked = try checkProgram(at: path, searchPath: searchPath)
    let shim = neededShim(checked)
    var report = DoctorReport(target: DoctorTarget(kind: .program, name: name, path: checked.path), obstacles: checked.obstacles + shim.obstacles)
    report.notes += scriptNotes(checked) + shim.notes
    return report.advisingKernelMode()
}

/// Which of the shims the program (a script's interpreter) needs: a note where it is installed;
/// an obstacle where it is not, or where none fits the program. Under another root (an image)
/// the shims installed here say nothing of the image's: a note names the one it needs.
private func neededShim(_ checked: ProgramCheck, root: RootDirectory = RootDirectory(nil)) -> (notes: [String], obstacles: [PreloadObstacle]) {
    guard let bytes = fileHead(checked.interpreter ?? checked.path) else { return ([], []) }
    switch programShimABI(bytes) {
    case .success(let abi) where !root.isLiveSystem:
        return (["it needs \(abi.shimName), which the image must carry (doc/images.md)"], [])
    case .success(let abi):
        guard let path = installedShim(for: abi) else { return ([], [.shimNotInstalled(abi)]) }
        return ([neededShimNote(abi, installedAt: path)], [])
    // A static program's obstacle says it all.
    case .failure where checked.obstacles.contains(.staticallyLinked): return ([], [])
    case .failure(let unfit): return ([], [.noShimFits(unfit.description)])
    }
}

/// For a script, what runs it.
private func scriptNotes(_ checked: ProgramCheck) -> [String] {
    checked.interpreter.map { ["\(checked.path) is a script: \($0) runs it, and that is what LD_PRELOAD must reach"] } ?? []
}

/// `tcpkeep doctor --pid N`: the process's program, whether the shim is mapped, its
/// connections and settings.
public func inspectProcess(_ pid: Int32) throws -> DoctorReport {
    try inspectProcess(pid, target: DoctorTarget(kind: .process, name: "\(pid)", pid: pid)).advisingKernelMode()
}

private func inspectProcess(_ pid: Int32, target: DoctorTarget) throws -> DoctorReport {
    try requireProcess(pid, "--pid")
    let maps: String
    do {
        guard let text = try Files.readText("/proc/\(pid)/maps") else { throw NoSuchProcess(pid: pid, option: "--pid") }
        maps = text
    } catch let error as SystemError where error.code == EACCES || error.code == EPERM {
        let why = geteuid() == 0
            ? "the kernel refused this root process ptrace access to it (a process with capabilities this one lacks, or a security module)"
            : "another user's process can be read by root (or with CAP_SYS_PTRACE) only"
        throw DoctorError(description: "\(error), so what it loaded cannot be seen: \(why)")
    }
    var target = target
    target.pid = pid
    var report = DoctorReport(target: target, obstacles: [])
    do {
        report.kernel = try kernelAttachment(covering: pid)
    } catch {
        report.notes.append("whether kernel mode covers it cannot be told: \(error)")
    }
    if let executable = Files.readLink("/proc/\(pid)/exe") {
        report.target.path = report.target.path ?? executable
        // The running image, even when the file on disk was replaced or deleted.
        do {
            report.obstacles = try checkProgram(at: "/proc/\(pid)/exe", searchPath: systemdExecSearchPath).obstacles
        } catch {
            report.notes.append("its program cannot be judged: \(error)")
        }
    }
    // Without a shim of its own to name, any mapped libtcpkeep.so is found by its file name.
    let shim = mappedShim(maps: maps, library: try? locateShim())
    report.shimLoaded = shim != nil
    var environment: [ShimVariable]?
    do {
        environment = try Files.read("/proc/\(pid)/environ").map(shimVariables(environ:))
    } catch {
        report.notes.append("its environment cannot be read: \(error)")
    }
    if shim != nil, let variables = environment, !variables.contains(where: { $0.name == "LD_PRELOAD" }) {
        report.notes.append("the shim is loaded but LD_PRELOAD is not in /proc/\(pid)/environ: the process overwrote its environment area (redis does, for its process title), so the settings cannot be read there")
        environment = nil
    }
    let exact = (try? requirePtraceRights("doctor")) != nil
    var selection = AuditSelection()
    selection.pids = [pid]
    // The process's own namespace, read from /proc: a few sockets.
    var request = AuditRequest(netnsOf: pid, selection: selection, exact: exact, source: .proc)
    var connections = CollectedConnections()
    var audit: AuditResult
    do {
        audit = try runAudit(request, into: &connections)
    } catch where exact {
        // Only reading the sockets' own options can fail here and not below: a /proc
        // error fails the second attempt too, and is reported.
        report.notes.append("each socket's own options could not be read (pidfd_getfd refused); the verdicts come from the kernel's timers")
        request.exact = false
        audit = try runAudit(request, into: &connections)
    }
    report.notes += audit.warnings
    // One process's /proc/PID/net: how it was read and mapped is no news.
    audit.summary.namespaces = []
    audit.summary.owners = nil
    report.connections = audit.summary
    let options = connections.connections.compactMap(\.options)
    report.settings = DoctorSettings(environment: environment, sockets: request.exact && !options.isEmpty ? socketOptionGroups(options) : nil)
    if !request.exact {
        report.notes.append("run as root to read each connection's own keepalive values")
    }
    if shim == nil && report.kernel == nil {
        report.notes.append("the shim is not loaded: restart the program under tcpkeep run (or a unit with tcpkeep systemd UNIT --write); tcpkeep fix --pid \(pid) turns keepalive on for the connections it has open now")
    }
    let missing = report.connections?.count(.missing) ?? 0
    if missing > 0 {
        report.notes.append("\(missing) connection\(missing == 1 ? " lacks" : "s lack") keepalive: tcpkeep fix --pid \(pid) turns it on without a restart")
    }
    return report
}

/// `tcpkeep doctor --unit NAME`: the unit's ExecStart= program under the root and, where
/// systemd runs it here, its main process.
public func inspectUnit(_ unit: UnitName, root: RootDirectory) throws -> DoctorReport {
    try inspectUnitProgramAndProcess(unit, root: root).advisingKernelMode()
}

private func inspectUnitProgramAndProcess(_ unit: UnitName, root: RootDirectory) throws -> DoctorReport {
    let sources = try UnitSources(unit: unit, root: root)
    guard sources.unitFile != nil else {
        throw DoctorError(description: "no unit file for \(unit) in \(sources.searchedDirectories)")
    }
    guard let program = sources.program else { throw DoctorError(description: "\(unit) has no ExecStart=") }
    let checked: ProgramCheck
    do {
        checked = try checkUnitProgram(program, root: root)
    } catch {
        throw DoctorError(description: "cannot check \(unit): its program cannot be judged: \(error)")
    }
    let target = DoctorTarget(kind: .unit, name: unit.name, path: checked.path, unit: unit.name)
    var notes = scriptNotes(checked)
    if let socketUnit = unit.socketUnit, try UnitSources(unit: socketUnit, root: root).unitFile != nil {
        notes.append("\(socketUnit) passes sockets in, which LD_PRELOAD does not reach: tcpkeep systemd \(socketUnit) sets its KeepAlive=")
    }
    let shim = neededShim(checked, root: root)
    var report = DoctorReport(target: target, obstacles: checked.obstacles + shim.obstacles, notes: notes + shim.notes)
    guard systemdIsRunning else {
        report.notes.append("systemd is not running here: checked the program alone")
        return report
    }
    guard root.isLiveSystem else {
        report.notes.append("--root \(root.path!) is not the running system: checked the program alone")
        return report
    }
    report.notes += missingBPFProgramPins(of: sources)
    let shown = try runSuccessfully(["systemctl", "show", "-p", "MainPID", "--value", unit.name])
    guard let pid = parseMainPID(shown.output) else {
        throw DoctorError(description: "systemctl show \(unit) printed no main PID: '\(shown.output)'")
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
    report.kernel = process.kernel
    report.notes += process.notes
    return report
}
