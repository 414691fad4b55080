import TCPKeepCore

/// A unit's files under the root, as systemd would read them, leaving out tcpkeep's own drop-in.
struct UnitSources {
    let unit: UnitName
    let root: RootDirectory
    let unitFile: String?
    /// The drop-ins in systemd's order, with their contents.
    let dropIns: [(candidate: DropInCandidate, text: String)]

    init(unit: UnitName, root: RootDirectory, excluding ownDropIn: String? = nil) {
        self.unit = unit
        self.root = root
        let names = [unit.name] + (unit.template.map { [$0] } ?? [])
        unitFile = names.lazy.flatMap { name in unitSearchDirectories.lazy.map { root.resolve("\($0)/\(name)") } }
            .compactMap { try? Files.readText($0) }.first
        var candidates: [DropInCandidate] = []
        for (searchIndex, directory) in unitSearchDirectories.enumerated() {
            for (dropInIndex, dropInDirectory) in unit.dropInDirectoryNames.enumerated() {
                let path = root.resolve("\(directory)/\(dropInDirectory)")
                candidates += Files.names(in: path).map {
                    DropInCandidate(searchDirectory: searchIndex, dropInDirectory: dropInIndex, fileName: $0, path: "\(path)/\($0)")
                }
            }
        }
        dropIns = orderedDropIns(candidates).filter { $0.path != ownDropIn }
            .compactMap { candidate in (try? Files.readText(candidate.path))?.map { (candidate, $0) } }
    }

    /// Where the unit file was looked for, for messages.
    var searchedDirectories: String { unitSearchDirectories.map(root.resolve).joined(separator: ", ") }

    private var entries: [UnitFileEntry] {
        unitFileEntries(unitFile ?? "") + dropIns.flatMap { unitFileEntries($0.text) }
    }

    var program: String? { serviceProgram(entries) }

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
