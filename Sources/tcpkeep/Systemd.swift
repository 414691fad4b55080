import ArgumentParser
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

struct Systemd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print or write a systemd drop-in that turns keepalive on for a unit.",
        discussion: """
            For a service: LD_PRELOAD with the shim in front of the unit's own preload (read from its \
            unit file and drop-ins), and the settings. For a .socket unit: KeepAlive= and its timings. \
            The file is /etc/systemd/system/UNIT.d/\(tcpkeepDropInName); a file there that tcpkeep \
            did not write is never replaced or removed.
            """
    )

    @Argument(help: ArgumentHelp("The unit, e.g. redis-server (a .service) or app.socket.", valueName: "unit"))
    var unitName: String

    @OptionGroup var settings: SettingsOptions
    @OptionGroup var file: GeneratedFileOptions
    @OptionGroup var library: LibraryOption

    @Flag(help: "After --write or --remove, run systemctl daemon-reload (when systemd is running).")
    var reload = false

    @Flag(help: "Delete tcpkeep's drop-in for the unit, and nothing else.")
    var remove = false

    func validate() throws {
        do {
            _ = try UnitName(unitName)
        } catch {
            throw ValidationError(error.description)
        }
        if remove && file.write { throw ValidationError("--write and --remove exclude each other") }
        if reload && !file.write && !remove { throw ValidationError("--reload needs --write or --remove") }
    }

    func run() throws {
        try reportingFailures {
            let unit = try! UnitName(unitName)
            let path = file.onDisk(tcpkeepDropInPath(unit))
            if remove {
                try removeDropIn(at: path)
            } else {
                let content = try dropIn(for: unit, ownDropIn: path)
                guard file.write else { return FileDescriptor.standardOutput.write(content) }
                // Unchanged needs no reload, unless asked for: an earlier one may have failed.
                if try install(content, at: path) == .unchanged && !reload { return }
            }
            try nextSteps(unit)
        }
    }

    private func dropIn(for unit: UnitName, ownDropIn: String) throws -> String {
        let settings = try settings.settings()
        let sources = UnitSources(unit: unit, root: file.location, excluding: ownDropIn)
        if sources.unitFile == nil {
            warn("no unit file for \(unit) in \(unitSearchDirectories.map(file.onDisk).joined(separator: ", ")); the drop-in applies once it is installed")
        }
        switch unit.kind {
        case .socket:
            return socketDropIn(unit: unit, settings: settings)
        case .service:
            for path in sources.dropInsReplacingPreload {
                warn("\(path) sorts after \(tcpkeepDropInName) and sets LD_PRELOAD, which replaces the shim's; add the shim to it by hand")
            }
            if let program = sources.program {
                checkReach(program)
            }
            return serviceDropIn(
                unit: unit, settings: settings, library: try library.path(), existingPreload: try sources.existingPreload())
        }
    }

    /// Warns when LD_PRELOAD cannot reach the unit's program.
    private func checkReach(_ program: String) {
        guard let checked = checkUnitProgram(program, root: file.location) else {
            return warn("cannot read the unit's program \(file.onDisk(program)) to check that LD_PRELOAD reaches it")
        }
        for obstacle in checked.obstacles {
            warn("LD_PRELOAD will not reach \(checked.path): \(obstacle.explanation)")
        }
    }

    private func removeDropIn(at path: String) throws {
        guard let existing = try Files.readText(path) else {
            FileDescriptor.standardOutput.write("nothing to remove: \(path) does not exist\n")
            throw ExitCode.success
        }
        guard isWrittenByTcpkeep(existing) else {
            throw Failure(message: "\(path) was not written by tcpkeep (its first line is not '\(generatedFileMarker)'); not removing it", status: 1)
        }
        try Files.remove(path)
        FileDescriptor.standardOutput.write("removed \(path)\n")
    }

    /// The commands that make systemd use the changed drop-in; with --reload, the reload run.
    private func nextSteps(_ unit: UnitName) throws {
        let restart = "systemctl restart \(unit)" + (unit.kind == .socket ? " (and its service)" : "")
        FileDescriptor.standardOutput.write("To apply it: systemctl daemon-reload, then \(restart)\n")
        guard reload else { return }
        guard systemdIsRunning else {
            throw Failure(message: "could not reload: systemd is not running here (/run/systemd/system is missing)", status: 1)
        }
        guard file.isLiveSystem else {
            throw Failure(message: "not reloading: --root \(file.root!) is not the running system", status: 1)
        }
        let result = try runProgram(["systemctl", "daemon-reload"])
        guard result.status == 0 else { throw Failure(message: "systemctl daemon-reload failed", status: 1) }
        FileDescriptor.standardOutput.write("reloaded systemd; restart \(unit) for its processes to load the shim\n")
    }
}

/// A program file and what keeps LD_PRELOAD from it.
struct ProgramCheck {
    let path: String
    let obstacles: [PreloadObstacle]
}

/// Judges the first of `candidates` that is a regular file; nil when none is, or it cannot be read.
func checkProgram(candidates: [String]) -> ProgramCheck? {
    guard let path = candidates.first(where: { Files.regularFileMode($0) != nil }),
        let mode = Files.regularFileMode(path), let bytes = try? Files.read(path)
    else { return nil }
    return ProgramCheck(
        path: path, obstacles: preloadObstacles(executable: bytes, mode: mode, hasFileCapabilities: Files.hasFileCapabilities(path)))
}

/// A unit's ExecStart= program under the root, found as systemd finds a name without a path.
func checkUnitProgram(_ program: String, root: RootOption) -> ProgramCheck? {
    checkProgram(candidates: commandCandidates(program, searchPath: systemdExecSearchPath).map(root.onDisk))
}

/// A unit's files under the root, as systemd would read them, leaving out tcpkeep's own drop-in.
struct UnitSources {
    let unitFile: String?
    /// The drop-ins in systemd's order, with their contents.
    let dropIns: [(candidate: DropInCandidate, text: String)]
    let unit: UnitName
    let file: RootOption

    init(unit: UnitName, root file: RootOption, excluding ownDropIn: String? = nil) {
        self.unit = unit
        self.file = file
        let names = [unit.name] + (unit.template.map { [$0] } ?? [])
        unitFile = names.lazy.flatMap { name in unitSearchDirectories.lazy.map { file.onDisk("\($0)/\(name)") } }
            .compactMap { try? Files.readText($0) }.first
        var candidates: [DropInCandidate] = []
        for (searchIndex, directory) in unitSearchDirectories.enumerated() {
            for (dropInIndex, dropInDirectory) in unit.dropInDirectoryNames.enumerated() {
                let path = file.onDisk("\(directory)/\(dropInDirectory)")
                candidates += Files.names(in: path).map {
                    DropInCandidate(searchDirectory: searchIndex, dropInDirectory: dropInIndex, fileName: $0, path: "\(path)/\($0)")
                }
            }
        }
        dropIns = orderedDropIns(candidates).filter { $0.path != ownDropIn }
            .compactMap { candidate in (try? Files.readText(candidate.path)).flatMap { $0 }.map { (candidate, $0) } }
    }

    private var entries: [UnitFileEntry] {
        unitFileEntries(unitFile ?? "") + dropIns.flatMap { unitFileEntries($0.text) }
    }

    var program: String? { serviceProgram(entries) }

    /// The unit's LD_PRELOAD: from the running systemd when there is one and no --root, which
    /// also sees units in generator and transient directories, else from the files.
    func existingPreload() throws -> String? {
        guard file.isLiveSystem && systemdIsRunning else { return environmentPreload(entries) }
        let shown = try runProgram(["systemctl", "show", "-p", "Environment", "--value", unit.name])
        guard shown.status == 0 else {
            throw Failure(message: "systemctl show \(unit) failed; cannot tell what the unit preloads already", status: 1)
        }
        return showEnvironmentPreload(shown.output)
    }

    /// Drop-ins applied after tcpkeep's that set LD_PRELOAD themselves.
    var dropInsReplacingPreload: [String] {
        dropIns.filter { $0.candidate.fileName > tcpkeepDropInName && environmentPreload(unitFileEntries($0.text)) != nil }
            .map(\.candidate.path)
    }
}
