import ArgumentParser
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// Where the configuration commands write their file, and whether they do.
struct GeneratedFileOptions: ParsableArguments {
    @Flag(help: "Write the file instead of printing it.")
    var write = false

    @OptionGroup var location: RootOption

    var root: String? { location.root }
    func onDisk(_ path: String) -> String { location.onDisk(path) }
    var isLiveSystem: Bool { location.isLiveSystem }
}

/// A directory to treat as /, for the commands that read or write a system's files.
struct RootOption: ParsableArguments {
    @Option(help: ArgumentHelp("Treat this directory as / (for images, containers and tests).", valueName: "dir"))
    var root: String?

    func validate() throws {
        if let root, !Files.isDirectory(root) {
            throw ValidationError("--root: '\(root)' is not a directory")
        }
    }

    /// `path` (absolute, as on the running system) under the root.
    func onDisk(_ path: String) -> String {
        guard let root else { return path }
        return (root.hasSuffix("/") ? String(root.dropLast()) : root) + path
    }

    /// Whether the files are those of the running system, not of a tree under --root.
    var isLiveSystem: Bool { root == nil || root == "/" }
}

/// Writes a generated file unless it holds those bytes already, refusing a file tcpkeep did not
/// write, and says what it did.
func install(_ content: String, at path: String) throws -> FileChange {
    let change: FileChange
    do {
        change = try plannedChange(path: path, existing: try Files.readText(path), new: content)
    } catch let error as SettingsError {
        throw Failure(message: error.description, status: 1)
    }
    switch change {
    case .unchanged: FileDescriptor.standardOutput.write("unchanged: \(path)\n")
    case .create, .replace:
        try Files.writeAtomically(content, to: path)
        FileDescriptor.standardOutput.write("wrote \(path)\n")
    }
    return change
}

/// The library path a drop-in names: --library, else the shim this tcpkeep would preload.
struct LibraryOption: ParsableArguments {
    @Option(help: ArgumentHelp("The shim's installed absolute path to put in LD_PRELOAD (default: the one beside this tcpkeep).", valueName: "path"))
    var library: String?

    func validate() throws {
        if let library, let problem = preloadPathProblem(library) {
            throw ValidationError("--library: \(problem)")
        }
    }

    func path() throws -> String {
        try library ?? locateShim()
    }
}

func warn(_ message: String) {
    FileDescriptor.standardError.write("tcpkeep: warning: \(message)\n")
}

/// Whether systemd is the running init (sd_booted's test).
var systemdIsRunning: Bool { Files.isDirectory("/run/systemd/system") }
