import Foundation
import Testing

/// A real process that names itself to forge a row, run from an executable whose path holds a
/// line feed, an escape sequence and a space, holding real TCP connections: what tcpkeep prints
/// about it adds no line, no column and no escape, and the machine formats keep it exact.
@Suite("Hostile process names and paths")
struct HostileNameTests {
    static let name = "x\n  fake ok row"
    /// Escaped as the table shows it: one word.
    static let shownName = #"x\x0a\x20\x20fake\x20ok\x20row"#
    static let directoryName = "evil\n\u{1b}[31mred dir"

    /// The holder copied under the hostile directory, once for the suite's tests.
    static let hostileHolder = Result { () throws -> String in
        let directory = Artifacts.scratch.appendingPathComponent(directoryName)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let executable = directory.appendingPathComponent("holder").path
        try FileManager.default.copyItem(atPath: try Artifacts.holder.get(), toPath: executable)
        return executable
    }

    /// The hostile holder, renamed, holding two connections.
    static func startHostile() throws -> (program: RunningProgram, executable: String) {
        let executable = try hostileHolder.get()
        let program = try RunningProgram([executable, "name:\(name)", "4:none", "4:keepalive:30"])
        return (program, executable)
    }

    /// The path as the table and doctor show it.
    static func shown(_ path: String) -> String {
        path.replacingOccurrences(of: "\n", with: #"\x0a"#).replacingOccurrences(of: "\u{1b}", with: #"\x1b"#)
    }

    /// Runs tcpkeep; what it printed must hold no raw escape and no forged row.
    func tcpkeep(_ arguments: [String], status: Int32 = 0) throws -> ProcessResult {
        let result = try runProcess([Artifacts.tcpkeep] + arguments)
        #expect(result.status == status, "\(result)")
        let printed = result.stdout + result.stderr
        #expect(!printed.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{9b}" }, "a raw escape: \(result)")
        #expect(!printed.split(separator: "\n").contains { $0.hasPrefix("  fake") }, "the forged row: \(result)")
        return result
    }

    @Test("the table: one heading line for the process, escaped, and its two connections' rows")
    func table() throws {
        let (holder, executable) = try Self.startHostile()
        defer { holder.stop() }
        let result = try tcpkeep(["audit", "--pid", "\(holder.pid)"])
        #expect(result.lines.first == "\(Self.shownName) (pid \(holder.pid), \(try unitColumn(holder.pid))) \(Self.shown(executable))", "\(result)")
        // The heading, the column titles, four sockets, the summary.
        #expect(result.lines.count == 7, "\(result)")
        #expect(result.lines.filter { $0.hasPrefix("  ok ") || $0.hasPrefix("  missing ") }.count == 4, "\(result)")
        #expect(result.lines.last?.hasPrefix("4 connections: 1 ok, 3 missing") == true, "\(result)")
    }

    /// What the table shows for the process's unit: escaped, or `no unit`.
    func unitColumn(_ pid: Int32) throws -> String {
        let json = try runProcess([Artifacts.tcpkeep, "audit", "--pid", "\(pid)", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let unit = (object?["connections"] as? [[String: Any]])?.first?["unit"] as? String
        return unit?.replacingOccurrences(of: " ", with: #"\x20"#) ?? "no unit"
    }

    @Test("JSON parses, and holds the exact name and path")
    func json() throws {
        let (holder, executable) = try Self.startHostile()
        defer { holder.stop() }
        let result = try tcpkeep(["audit", "--pid", "\(holder.pid)", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        let connections = try #require(object["connections"] as? [[String: Any]])
        #expect(connections.count == 4)
        for connection in connections {
            #expect(connection["process"] as? String == Self.name)
            #expect(connection["executable"] as? String == executable)
        }
    }

    @Test("Prometheus: promtool checks it, and the name is one label value")
    func prometheus() throws {
        try requireProgram("promtool")
        let (holder, _) = try Self.startHostile()
        defer { holder.stop() }
        let result = try tcpkeep(["audit", "--pid", "\(holder.pid)", "--format", "prometheus"])
        let metrics = Artifacts.scratch.appendingPathComponent("hostile-\(holder.pid).prom").path
        try result.stdout.write(toFile: metrics, atomically: true, encoding: .utf8)
        let lint = try runProcess(["sh", "-c", "promtool check metrics < \"$0\"", metrics])
        #expect(lint.status == 0 && lint.stderr.isEmpty, "\(lint)")
        let series = result.lines.filter { $0.hasPrefix("tcpkeep_connections{") }
        #expect(series.count == 2 && series.allSatisfy { $0.hasPrefix(#"tcpkeep_connections{process="x\n  fake ok row",unit=""#) }, "\(result)")
    }

    @Test("doctor --pid: every line its own, the path escaped; its JSON exact")
    func doctor() throws {
        let (holder, executable) = try Self.startHostile()
        defer { holder.stop() }
        let text = try tcpkeep(["doctor", "--pid", "\(holder.pid)"], status: 1)
        #expect(text.lines.first == "process \(holder.pid) (\(Self.shown(executable)))", "\(text)")
        #expect(text.lines.dropFirst().allSatisfy { $0.hasPrefix("  ") || $0.hasPrefix("verdict: ") }, "\(text)")
        #expect(text.lines.last == "verdict: the shim does not reach it")

        let json = try tcpkeep(["doctor", "--pid", "\(holder.pid)", "--format", "json"], status: 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
        #expect((object["target"] as? [String: Any])?["path"] as? String == executable)
    }

    @Test("fix --pid: a title, the column titles and a row per connection, nothing raw")
    func fix() throws {
        try requireRoot()
        let (holder, _) = try Self.startHostile()
        defer { holder.stop() }
        let result = try tcpkeep(["fix", "--pid", "\(holder.pid)", "--idle", "20", "--dry-run"])
        #expect(result.lines.first?.hasPrefix("would set SO_KEEPALIVE, TCP_KEEPIDLE 20s on 4 connections of pid \(holder.pid)") == true, "\(result)")
        #expect(result.lines.count == 6 && result.lines.dropFirst().allSatisfy { $0.hasPrefix("  ") }, "\(result)")
    }
}
