import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Writing straight to a descriptor, so nothing is left in a buffer when `run` replaces the process.
public enum Output: Sendable {
    case standardOutput, standardError

    /// A failed write to a terminal or pipe has no one left to tell.
    public func write(_ text: String) {
        var text = text
        _ = text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: self == .standardOutput ? STDOUT_FILENO : STDERR_FILENO) }
    }
}

/// `tcpkeep: warning: ...` on standard error, on one line: what the message quotes of other
/// processes (names, paths, units) is escaped.
public func warn(_ message: String) {
    Output.standardError.write("tcpkeep: warning: \(terminalSafe(message))\n")
}

/// A variable of this process's environment.
public func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// What a program run to completion left: its exit status (nil when a signal ended it) and
/// its standard output.
public struct ProgramResult: Sendable {
    public let status: Int32?
    public let output: String
}

/// A program that ran but did not succeed.
public struct ProgramFailed: Error, CustomStringConvertible, Sendable {
    public let command: String
    public let result: ProgramResult
    /// What its failure means for the user.
    public let consequence: String?

    public var description: String {
        let how = result.status.map { "exited with status \($0)" } ?? "was killed by a signal"
        return "\(command) \(how)" + (consequence.map { "; \($0)" } ?? "")
    }
}

/// Runs a program to completion, its stderr going to ours.
public func runProgram(_ arguments: [String]) throws(SystemError) -> ProgramResult {
    var pipeEnds: [Int32] = [0, 0]
    try checked(pipe(&pipeEnds), "cannot create a pipe to run \(arguments[0])")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    // The child keeps the write end as its stdout only, no second copy.
    if pipeEnds[1] != STDOUT_FILENO { posix_spawn_file_actions_addclose(&actions, pipeEnds[1]) }
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    close(pipeEnds[1])
    defer { close(pipeEnds[0]) }
    guard spawned == 0 else { throw SystemError("cannot run \(arguments[0])", code: spawned) }
    // The child is reaped whatever the read gives; a read error is reported after.
    let output = Result { () throws(SystemError) in try Files.readToEnd(pipeEnds[0], "cannot read the output of \(arguments[0])") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        let code = errno
        if code != EINTR { throw SystemError("cannot wait for \(arguments[0])", code: code) }
    }
    let exited = status & 0x7f == 0
    return ProgramResult(status: exited ? (status >> 8) & 0xff : nil, output: String(decoding: try output.get(), as: UTF8.self))
}

/// Runs a program and throws unless it exits 0.
@discardableResult
public func runSuccessfully(_ arguments: [String], consequence: String? = nil) throws -> ProgramResult {
    let result = try runProgram(arguments)
    guard result.status == 0 else {
        throw ProgramFailed(command: arguments.joined(separator: " "), result: result, consequence: consequence)
    }
    return result
}

/// Why this process could not become the program.
public enum ExecError: Error, CustomStringConvertible, Sendable {
    case notFound(String)
    case notRunnable(String, code: Int32)

    public var description: String {
        switch self {
        case .notFound(let program): "\(program): command not found"
        case .notRunnable(let program, let code): "cannot run \(program): \(errorText(code))"
        }
    }
}

/// Replaces this process with `program` (execvp, searching PATH), with `environment` set on
/// top of this process's own.
public func replaceProcess(with program: [String], environment: [(name: String, value: String)]) throws(ExecError) -> Never {
    for variable in environment {
        setenv(variable.name, variable.value, 1)
    }
    let arguments = program.map { strdup($0) } + [nil]
    execvp(program[0], arguments)
    let code = errno
    if code == ENOENT { throw .notFound(program[0]) }
    throw .notRunnable(program[0], code: code)
}

/// Whether systemd is the running init (sd_booted's test).
public var systemdIsRunning: Bool { Files.isDirectory("/run/systemd/system") }
