import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// A program file and what keeps LD_PRELOAD from it.
public struct ProgramCheck: Sendable {
    public let path: String
    public let obstacles: [PreloadObstacle]
}

/// Judges the program file at `path`, a regular file.
func checkProgram(at path: String) throws(SystemError) -> ProgramCheck {
    guard let bytes = try Files.read(path) else { throw SystemError("cannot read \(path)", code: ENOENT) }
    let mode = Files.regularFileMode(path) ?? 0
    return ProgramCheck(
        path: path, obstacles: preloadObstacles(executable: bytes, mode: mode, hasFileCapabilities: Files.hasFileCapabilities(path)))
}

/// A unit's ExecStart= program under the root, found as systemd finds a name without a path;
/// nil when there is no such file or it cannot be read.
func checkUnitProgram(_ program: String, root: RootDirectory) -> ProgramCheck? {
    let candidates = commandCandidates(program, searchPath: systemdExecSearchPath).map(root.onDisk)
    return candidates.first { Files.regularFileMode($0) != nil }.flatMap { try? checkProgram(at: $0) }
}
