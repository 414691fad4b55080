import Foundation

/// A program left running while a test looks at it, stopped by its PID when the test is done
/// (`stop()` in a `defer`, so also when the test fails).
final class RunningProgram {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    /// The lines it printed so far.
    private(set) var lines: [String] = []
    private var buffered = Data()

    var pid: Int32 { process.processIdentifier }

    /// Starts `arguments` and waits up to `timeout` seconds for it to print a line containing
    /// `readyLine`.
    init(
        _ arguments: [String], environment: [String: String] = [:], readyLine: String = "ready",
        timeout: TimeInterval = 30
    ) throws {
        process.executableURL = URL(fileURLWithPath: try executablePath(arguments[0]))
        process.arguments = Array(arguments.dropFirst())
        process.environment = hermeticEnvironment.merging(environment) { _, new in new }
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        do {
            try waitForLine(containing: readyLine, timeout: timeout)
        } catch {
            stop()
            throw error
        }
    }

    /// Reads its output until a line contains `text`; throws when `timeout` passes first or
    /// the program ends.
    func waitForLine(containing text: String, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let fd = output.fileHandleForReading.fileDescriptor
        while !lines.contains(where: { $0.contains(text) }) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
            guard remaining > 0, poll(&poller, 1, remaining) > 0 else {
                throw ProcessTimedOut(arguments: process.arguments ?? [])
            }
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw NotReady(arguments: process.arguments ?? [], output: lines) }
            buffered += chunk
            lines = String(decoding: buffered, as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    /// Writes a line to its standard input.
    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    struct NotReady: Error, CustomStringConvertible {
        let arguments: [String]
        let output: [String]
        var description: String { "\(arguments.joined(separator: " ")) ended before printing what was awaited: \(output)" }
    }
}

/// The holder program and the connections it announced.
struct HeldConnection {
    let index: Int
    let client: Int
    let server: Int
}

extension RunningProgram {
    var connections: [HeldConnection] {
        lines.filter { $0.hasPrefix("connection ") }.map(fields(of:)).map {
            HeldConnection(index: Int($0["index"]!)!, client: Int($0["client"]!)!, server: Int($0["server"]!)!)
        }
    }
}

/// One socket the holder holds, as it reads it back with getsockopt.
struct HeldSocket: Equatable {
    let fields: [String: String]
    var index: Int { Int(fields["index"]!)! }
    var side: String { fields["side"]! }
    var family: String { fields["family"]! }
    /// The options, "-" for one the socket refuses.
    var options: [String] { ["keepalive", "idle", "interval", "count", "user_timeout"].map { fields[$0]! } }
}

extension RunningProgram {
    /// Asks the holder for a report ("report" on its stdin) and returns the sockets in it.
    func report() throws -> [HeldSocket] {
        let done = lines.filter { $0.hasPrefix("reported ") }.count
        send("report")
        try waitForLine(containing: "reported \(done + 1)", timeout: 10)
        let start = lines.lastIndex(of: done == 0 ? "ready" : "reported \(done)")! + 1
        let end = lines.firstIndex(of: "reported \(done + 1)")!
        return lines[start..<end].filter { $0.hasPrefix("socket ") }.map { HeldSocket(fields: fields(of: $0)) }
    }
}
