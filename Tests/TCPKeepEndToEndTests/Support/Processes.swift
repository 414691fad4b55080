import Foundation

/// What a finished child process left behind.
struct ProcessResult: CustomStringConvertible {
    let arguments: [String]
    let pid: Int32
    /// The exit status, or nil when a signal ended the process.
    let status: Int32?
    /// The signal that ended the process, if one did.
    let signal: Int32?
    let stdout: String
    let stderr: String

    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    var description: String {
        "\(arguments.joined(separator: " ")) -> status \(status.map(String.init) ?? "-") signal \(signal.map(String.init) ?? "-")\nstdout:\n\(stdout)\nstderr:\n\(stderr)"
    }
}

struct ProcessTimedOut: Error, CustomStringConvertible {
    let arguments: [String]
    var description: String { "timed out: \(arguments.joined(separator: " "))" }
}

/// The environment the tests start children in: this process's, without any setting of the
/// shim's or preload that would leak into what a test measures.
let hermeticEnvironment: [String: String] = ProcessInfo.processInfo.environment.filter { name, _ in
    !["LD_PRELOAD", "KEEPALIVE", "KEEPIDLE", "KEEPINTVL", "KEEPCNT", "TCPKEEP_LIBRARY"].contains(name)
        && !name.hasPrefix("TCPKEEP_")
}

/// Runs a program to completion, searching PATH for a bare name, and captures its output.
/// A child still running after `timeout` seconds is killed and the call throws.
func runProcess(
    _ arguments: [String], environment extra: [String: String] = [:], in directory: URL? = nil,
    timeout: TimeInterval = 120
) throws -> ProcessResult {
    let process = Process()
    // Started directly, not through /usr/bin/env, which would load a preload library too.
    process.executableURL = URL(fileURLWithPath: try executablePath(arguments[0]))
    process.arguments = Array(arguments.dropFirst())
    process.environment = hermeticEnvironment.merging(extra) { _, new in new }
    if let directory { process.currentDirectoryURL = directory }
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("tcpkeep-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: output) }
    let stdoutURL = output.appendingPathComponent("stdout"), stderrURL = output.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    process.standardInput = FileHandle.nullDevice
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    try process.run()
    if finished.wait(timeout: .now() + timeout) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        finished.wait()
        throw ProcessTimedOut(arguments: arguments)
    }
    let signaled = process.terminationReason == .uncaughtSignal
    return ProcessResult(
        arguments: arguments, pid: process.processIdentifier,
        status: signaled ? nil : process.terminationStatus,
        signal: signaled ? process.terminationStatus : nil,
        stdout: try String(contentsOf: stdoutURL, encoding: .utf8),
        stderr: try String(contentsOf: stderrURL, encoding: .utf8))
}

struct ProgramNotFound: Error {
    let name: String
}

/// `name` itself when it has a slash, else the first executable of that name on PATH.
func executablePath(_ name: String) throws -> String {
    if name.contains("/") { return name }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    guard let directory = path.split(separator: ":").first(where: {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }) else { throw ProgramNotFound(name: name) }
    return "\(directory)/\(name)"
}

/// `key=value` pairs of one line of the probe's output, after its leading label.
func fields(of line: String) -> [String: String] {
    var result: [String: String] = [:]
    for word in line.split(separator: " ").dropFirst() {
        let parts = word.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
    }
    return result
}

/// The probe's lines that start with `label`, as fields.
func records(_ result: ProcessResult, labelled label: String) -> [[String: String]] {
    result.lines.filter { $0.hasPrefix(label + " ") || $0 == label }.map(fields(of:))
}
