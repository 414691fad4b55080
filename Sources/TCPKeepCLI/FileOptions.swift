import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

/// A directory to treat as /, for the commands that read or write a system's files.
struct RootOption: ParsableArguments {
    @Option(name: .customLong("root"), help: ArgumentHelp("Treat this directory as / (for images, containers and tests).", valueName: "dir"))
    var path: String?

    var root: RootDirectory { RootDirectory(path) }

    func validate() throws {
        if let path, !Files.isDirectory(path) {
            throw ValidationError("--root: '\(path)' is not a directory")
        }
    }
}

/// The library path a drop-in names: --library, else the shim this tcpkeep would preload.
struct LibraryOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The shim's installed absolute path to put in LD_PRELOAD (default: the one beside this tcpkeep; for a unit, the one that fits its program: a musl program gets the musl shim).",
        valueName: "path"))
    var library: String?

    func validate() throws {
        if let library, let problem = preloadPathProblem(library) {
            throw ValidationError("--library: \(problem)")
        }
    }

    /// The path, with a warning when it is not where an installed tcpkeep keeps the shim: a
    /// build tree's copy, often under /tmp, which a service with PrivateTmp= cannot see.
    func checkedPath() throws -> String {
        try checked(library ?? locateShim())
    }

    /// The same for a unit's drop-in: by default the shim that fits the unit's program.
    func checkedPath(forUnit unit: UnitName, root: RootDirectory) throws -> String {
        try checked(library ?? locateShim(forUnit: unit, root: root))
    }

    private func checked(_ path: String) -> String {
        if let problem = uninstalledShimProblem(path) {
            warn("the drop-in preloads \(path), \(problem); install tcpkeep first (make install), or pass --library with the installed path")
        }
        return path
    }
}

/// Where a configuration command's failures land: a usage problem exits 2, a file or system
/// operation that could not be done exits 1.
func configurationExitStatus(for error: any Error) -> Int32 {
    switch error {
    case is SettingsError, is ShimNotFound, is ValidationError: 2
    default: 1
    }
}
