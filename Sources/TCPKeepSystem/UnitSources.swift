import TCPKeepCore

/// A unit's files under the root, as systemd would read them, leaving out tcpkeep's own drop-in.
struct UnitSources {
    let unit: UnitName
    let root: RootDirectory
    let unitFile: String?
    /// The drop-ins in systemd's order, with their contents.
    let dropIns: [(candidate: DropInCandidate, text: String)]

    /// A file that exists but cannot be read (EACCES, EIO) is an error, not a missing file.
    init(unit: UnitName, root: RootDirectory, excluding ownDropIn: String? = nil) throws(SystemError) {
        self.unit = unit
        self.root = root
        // The unit's own file, else its template's, from the first search directory that has one.
        let names = [unit.name] + (unit.template.map { [$0] } ?? [])
        var unitFile: String?
        search: for name in names {
            for directory in unitSearchDirectories {
                unitFile = try Files.readText(root.resolve("\(directory)/\(name)"))
                if unitFile != nil { break search }
            }
        }
        self.unitFile = unitFile
        var candidates: [DropInCandidate] = []
        for (searchIndex, directory) in unitSearchDirectories.enumerated() {
            for (dropInIndex, dropInDirectory) in unit.dropInDirectoryNames.enumerated() {
                let path = root.resolve("\(directory)/\(dropInDirectory)")
                candidates += Files.names(in: path).map {
                    DropInCandidate(searchDirectory: searchIndex, dropInDirectory: dropInIndex, fileName: $0, path: "\(path)/\($0)")
                }
            }
        }
        var dropIns: [(candidate: DropInCandidate, text: String)] = []
        for candidate in orderedDropIns(candidates) where candidate.path != ownDropIn {
            // Listed a moment ago; gone since, it is no longer there to apply.
            if let text = try Files.readText(candidate.path) { dropIns.append((candidate, text)) }
        }
        self.dropIns = dropIns
    }

    /// Where the unit file was looked for, for messages.
    var searchedDirectories: String { unitSearchDirectories.map(root.resolve).joined(separator: ", ") }

    private var entries: [UnitFileEntry] {
        unitFileEntries(unitFile ?? "") + dropIns.flatMap { unitFileEntries($0.text) }
    }

    var program: String? { serviceProgram(entries) }

    var bpfPrograms: [BPFProgramSetting] { bpfProgramSettings(entries) }

    /// The unit's LD_PRELOAD: from the running systemd when there is one and no --root, which
    /// also sees units in generator and transient directories, else from the files.
    func existingPreload() throws -> String? {
        guard root.isLiveSystem && systemdIsRunning else { return environmentPreload(entries) }
        let shown = try runSuccessfully(
            ["systemctl", "show", "-p", "Environment", "--value", unit.name],
            consequence: "cannot tell what the unit preloads already")
        return showEnvironmentPreload(shown.output)
    }

    /// Drop-ins applied after tcpkeep's that set LD_PRELOAD themselves.
    var dropInsReplacingPreload: [String] {
        dropIns.filter { $0.candidate.fileName > tcpkeepDropInName && environmentPreload(unitFileEntries($0.text)) != nil }
            .map(\.candidate.path)
    }
}
