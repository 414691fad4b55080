import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// A program file and what keeps LD_PRELOAD from it.
public struct ProgramCheck: Sendable {
    public let path: String
    public let obstacles: [PreloadObstacle]
    /// For a script, the interpreter that runs it, which is what LD_PRELOAD must reach.
    public let interpreter: String?
}

/// Why a program could not be judged.
public struct ProgramCheckError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Judges what executing `path` runs: an ELF program itself, a script's interpreter (and for
/// `#!/usr/bin/env NAME`, NAME as env finds it in `searchPath`). `root` resolves the paths a
/// script names. Throws when the file is not a program, is missing, or cannot be read.
func checkProgram(at path: String, root: RootDirectory = RootDirectory(nil), searchPath: String) throws -> ProgramCheck {
    try checkProgram(at: path, root: root, searchPath: searchPath, scriptDepth: 0)
}

private func checkProgram(at path: String, root: RootDirectory, searchPath: String, scriptDepth: Int) throws -> ProgramCheck {
    if Files.isDirectory(path) { throw ProgramCheckError(description: "\(path) is a directory, not a program") }
    guard let mode = Files.regularFileMode(path) else {
        throw ProgramCheckError(description: access(path, F_OK) == 0 ? "\(path) is not a regular file" : "\(path): no such file")
    }
    guard let bytes = try Files.read(path) else { throw ProgramCheckError(description: "\(path): no such file") }
    switch programFile(bytes) {
    case .elf:
        return ProgramCheck(
            path: path, obstacles: preloadObstacles(executable: bytes, mode: mode, hasFileCapabilities: Files.hasFileCapabilities(path)),
            interpreter: nil)
    case .script(let interpreter, let argument):
        // The kernel follows a few levels of interpreters; a script's own set-ID bits are ignored.
        guard scriptDepth < 4 else { throw ProgramCheckError(description: "\(path): too many levels of #! interpreters") }
        let runner = try scriptRunner(path, interpreter: interpreter, argument: argument, root: root, searchPath: searchPath)
        let judged: ProgramCheck
        do {
            judged = try checkProgram(at: runner, root: root, searchPath: searchPath, scriptDepth: scriptDepth + 1)
        } catch let error as ProgramCheckError {
            throw ProgramCheckError(description: "\(path) is a script whose interpreter cannot be judged: \(error)")
        }
        return ProgramCheck(path: path, obstacles: judged.obstacles, interpreter: judged.interpreter ?? judged.path)
    case .other:
        throw ProgramCheckError(description: "\(path) is not a program: neither an ELF executable nor a script starting with #!")
    }
}

/// The program that runs the script at `path`: its `#!` interpreter, or for `#!/usr/bin/env
/// NAME`, NAME as env finds it in `searchPath`.
func scriptRunner(_ path: String, interpreter: String, argument: String?, root: RootDirectory, searchPath: String) throws -> String {
    guard interpreter.split(separator: "/").last == "env", let name = argument?.split(separator: " ").last(where: { !$0.hasPrefix("-") }) else {
        return root.resolve(interpreter)
    }
    guard let found = commandCandidates(String(name), searchPath: searchPath).map(root.resolve)
        .first(where: { Files.regularFileMode($0) != nil && access($0, X_OK) == 0 })
    else { throw ProgramCheckError(description: "\(path) is a script for \(name), which is not in PATH") }
    return found
}

/// A unit's ExecStart= program under the root, found as systemd finds a name without a path.
func checkUnitProgram(_ program: String, root: RootDirectory) throws -> ProgramCheck {
    let candidates = commandCandidates(program, searchPath: systemdExecSearchPath).map(root.resolve)
    guard let path = candidates.first(where: { Files.regularFileMode($0) != nil }) ?? (program.contains("/") ? candidates.first : nil) else {
        throw ProgramCheckError(description: "\(program) is in none of \(candidates.map { Files.parent(of: $0) }.joined(separator: ", "))")
    }
    return try checkProgram(at: path, root: root, searchPath: systemdExecSearchPath)
}
