import TCPKeepCore

/// Writes a generated file unless it holds those bytes already, refusing a file tcpkeep did
/// not write.
public func writeGeneratedFile(_ content: String, at path: String) throws -> FileChange {
    let change = try plannedChange(path: path, existing: try Files.readText(path), new: content)
    if change != .unchanged { try Files.writeAtomically(content, to: path) }
    return change
}

/// Removes a file tcpkeep wrote; false when there is none, a conflict when tcpkeep did not write it.
public func removeGeneratedFile(at path: String) throws -> Bool {
    guard let existing = try Files.readText(path) else { return false }
    guard isWrittenByTcpkeep(existing) else { throw GeneratedFileConflict(path: path, action: "removing") }
    try Files.remove(path)
    return true
}

/// A host action that cannot be taken here.
public struct HostActionRefused: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The drop-in `tcpkeep systemd` would write for a unit under `root`, and what the user should
/// know about it: a unit file that is missing, a later drop-in that replaces LD_PRELOAD, a
/// program LD_PRELOAD cannot reach. `library` is asked for only when a service needs it.
public func plannedDropIn(
    for unit: UnitName, settings: KeepaliveSettings, root: RootDirectory, library: () throws -> String
) throws -> (content: String, warnings: [String]) {
    let sources = try UnitSources(unit: unit, root: root, excluding: root.resolve(tcpkeepDropInPath(unit)))
    var warnings: [String] = []
    if sources.unitFile == nil {
        warnings.append("no unit file for \(unit) in \(sources.searchedDirectories); the drop-in applies once it is installed")
    }
    switch unit.kind {
    case .socket:
        return (socketDropIn(unit: unit, settings: settings), warnings)
    case .service:
        for path in sources.dropInsReplacingPreload {
            warnings.append("\(path) sorts after \(tcpkeepDropInName) and sets LD_PRELOAD, which replaces the shim's; add the shim to it by hand")
        }
        if let program = sources.program {
            do {
                let checked = try checkUnitProgram(program, root: root)
                warnings += checked.obstacles.map { "LD_PRELOAD will not reach \(checked.path): \($0.explanation)" }
            } catch {
                warnings.append("cannot check that LD_PRELOAD reaches the unit's program: \(error)")
            }
        }
        let content = serviceDropIn(
            unit: unit, settings: settings, library: try library(), existingPreload: try sources.existingPreload())
        return (content, warnings)
    }
}

/// `systemctl daemon-reload`, on the running system only.
public func reloadSystemd(root: RootDirectory) throws {
    guard systemdIsRunning else {
        throw HostActionRefused(description: "could not reload: systemd is not running here (/run/systemd/system is missing)")
    }
    guard root.isLiveSystem else {
        throw HostActionRefused(description: "not reloading: --root \(root.path!) is not the running system")
    }
    try runSuccessfully(["systemctl", "daemon-reload"])
}

/// `sysctl -p FILE`: loads the file into the sysctls of this process's network namespace and
/// returns what sysctl printed.
public func loadSysctlFile(_ path: String) throws -> String {
    try runSuccessfully(["sysctl", "-p", path]).output
}
