import Foundation
import Testing

/// `tcpkeep fix` against a real process holding TCP connections, a UDP pair and a UNIX pair.
@Suite("tcpkeep fix")
struct FixCommandTests {
    static let values = ["--idle", "20", "--interval", "5", "--count", "3", "--user-timeout", "35s"]
    static let expected = ["1", "20", "5", "3", "35000"]
    let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    func fix(_ arguments: [String], prefix: [String] = []) throws -> ProcessResult {
        try runProcess(prefix + [Artifacts.tcpkeep, "fix"] + arguments)
    }

    /// The holder's connections as `tcpkeep audit --exact` sees them, by local port.
    func audited(_ pid: Int32) throws -> [Int: [String: Any]] {
        let result = try runProcess([Artifacts.tcpkeep, "audit", "--pid", "\(pid)", "--exact", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        let connections = try #require(object["connections"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: connections.map { connection in
            (Int((connection["local"] as! String).split(separator: ":").last!)!, connection)
        })
    }

    @Test("every established TCP connection gets the values at once; UDP and UNIX sockets stay as they were")
    func changesTCPOnly() throws {
        try requireRoot()
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "6:none", "mapped:keepalive:100", "udp:none", "unix:none"])
        defer { holder.stop() }
        let before = try holder.report()
        #expect(before.count == 10)
        let result = try fix(["--pid", "\(holder.pid)"] + Self.values)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        #expect(result.lines.first == "set SO_KEEPALIVE, TCP_KEEPIDLE 20s, TCP_KEEPINTVL 5s, TCP_KEEPCNT 3, TCP_USER_TIMEOUT 35s on 6 of 6 connections of pid \(holder.pid)")
        // A row per connection, its timer none before (keepalive off) and keepalive after.
        let rows = result.lines.dropFirst(2)
        #expect(rows.count == 6, "\(result)")
        #expect(rows.filter { $0.contains(" none ") && $0.contains("keepalive off") }.count == 5, "\(result)")
        #expect(rows.allSatisfy { $0.contains("idle 20s interval 5s count 3 user-timeout 35s") }, "\(result)")

        let after = try holder.report()
        for (old, new) in zip(before, after) {
            if ["udp", "unix"].contains(old.family) {
                #expect(new == old, "the \(old.family) socket must stay untouched")
                #expect(new.options == ["0", "-", "-", "-", "-"])
            } else {
                #expect(new.options == Self.expected, "the process reads back \(new.fields)")
            }
        }
        let audit = try audited(holder.pid)
        #expect(audit.count == 6)
        for connection in audit.values {
            #expect(connection["status"] as? String == "ok")
            #expect(connection["timer"] as? String == "keepalive")
            let options = try #require(connection["options"] as? [String: Any])
            #expect(options["idle_seconds"] as? Int == 20 && options["interval_seconds"] as? Int == 5)
            #expect(options["count"] as? Int == 3 && options["user_timeout_ms"] as? Int == 35000)
        }
    }

    @Test("--port picks connections; --dry-run changes nothing")
    func portsAndDryRun() throws {
        try requireRoot()
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "4:none"])
        defer { holder.stop() }
        let held = holder.connections
        let before = try holder.report()
        let dry = try fix(["--pid", "\(holder.pid)", "--dry-run"] + Self.values)
        #expect(dry.status == 0, "\(dry)")
        #expect(dry.lines.first?.hasSuffix("on 4 connections of pid \(holder.pid) (dry run: nothing changed)") == true, "\(dry)")
        #expect(dry.lines.dropFirst(2).allSatisfy { $0.hasSuffix("keepalive off") }, "\(dry)")
        #expect(try holder.report() == before)
        #expect(try audited(holder.pid).values.allSatisfy { $0["status"] as? String == "missing" })

        let one = try fix(["--pid", "\(holder.pid)", "--port", "\(held[0].server)"] + Self.values)
        #expect(one.status == 0 && one.lines.first?.hasSuffix("on 2 of 2 connections of pid \(holder.pid)") == true, "\(one)")
        let after = try holder.report()
        for (old, new) in zip(before, after) {
            #expect(new.options == (new.index == 0 ? Self.expected : old.options), "\(new.fields)")
        }
        #expect(after.filter { $0.index == 1 }.allSatisfy { $0.options[0] == "0" })
        let none = try fix(["--pid", "\(holder.pid)", "--port", "1"] + Self.values)
        #expect(none.status == 0 && none.stdout == "nothing to change: pid \(holder.pid) has no established TCP connections with port 1\n")
    }

    @Test("--listeners: connections accepted afterwards inherit the values from the listener")
    func listeners() throws {
        try requireRoot()
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none"])
        defer { holder.stop() }
        let held = holder.connections[0]
        let result = try fix(["--pid", "\(holder.pid)", "--listeners"] + Self.values)
        #expect(result.status == 0 && result.lines.first?.hasSuffix("on 3 of 3 connections of pid \(holder.pid)") == true, "\(result)")
        // A new client: the kernel completes the connection into the listener's queue.
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(held.server).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client, $0, &length) } }
        let clientPort = Int(UInt16(bigEndian: local.sin_port))
        let audit = try runProcess([Artifacts.tcpkeep, "audit", "--port", "\(clientPort)", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
        let accepted = try #require((object["connections"] as? [[String: Any]])?.first { ($0["local"] as? String)?.hasSuffix(":\(held.server)") == true }, "\(audit)")
        #expect(accepted["timer"] as? String == "keepalive", "\(accepted)")
        #expect((accepted["timer_seconds"] as? Double).map { $0 > 15 && $0 <= 20 } == true, "\(accepted)")
    }

    @Test("with no values, SO_KEEPALIVE alone with the system's timing, and it says so")
    func keepaliveAlone() throws {
        try requireRoot()
        let holder = try RunningProgram([try Artifacts.holder.get(), "6:none"])
        defer { holder.stop() }
        let result = try fix(["--pid", "\(holder.pid)"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("only SO_KEEPALIVE is set, and the system's timing"), "\(result)")
        let systemIdle = try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_keepalive_time", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for socket in try holder.report() {
            #expect(socket.options[0] == "1" && socket.options[1] == systemIdle, "\(socket.fields)")
        }
    }

    @Test("without the rights it refuses, says which, and changes nothing")
    func withoutRights() throws {
        try requireRoot()
        try requireProgram("setpriv")
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "udp:none"])
        defer { holder.stop() }
        let before = try holder.report()
        let asNobody = try fix(["--pid", "\(holder.pid)"] + Self.values, prefix: nobody)
        #expect(asNobody.status == 2 && asNobody.stdout.isEmpty, "\(asNobody)")
        #expect(asNobody.stderr == "tcpkeep: fix changes other processes' sockets, which needs root or CAP_SYS_PTRACE\n", "\(asNobody)")
        // Root without CAP_SYS_PTRACE: the kernel refuses the access itself (EPERM).
        let noPtrace = try fix(["--pid", "\(holder.pid)"] + Self.values, prefix: ["setpriv", "--bounding-set=-sys_ptrace", "--"])
        #expect(noPtrace.status == 2 && noPtrace.stdout.isEmpty, "\(noPtrace)")
        #expect(noPtrace.stderr.contains("ptrace access to pid \(holder.pid) is refused: this process lacks CAP_SYS_PTRACE"), "\(noPtrace)")
        #expect(try holder.report() == before)
    }

    @Test("bad arguments exit 2 and change nothing", arguments: [
        (["--pid", "0"], "--pid: '0' is not a process ID"),
        (["--pid", "2147483647", "--idle", "20"], "--pid 2147483647: no such process"),
        (["--port", "70000"], "The value '70000' is invalid for '--port <port>': not a port"),
        (["--idle", "0"], "The value '0' is invalid for '--idle <duration>': out of range"),
        (["--enforce"], "Unknown option '--enforce'"),
        (["--log", "debug"], "Unknown option '--log'"),
        ([], "--pid"),
    ])
    func badArguments(arguments: [String], message: String) throws {
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none"])
        defer { holder.stop() }
        let before = try holder.report()
        let pid = arguments.contains("--pid") || arguments.isEmpty ? [] : ["--pid", "\(holder.pid)"]
        let result = try fix(pid + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        #expect(try holder.report() == before)
    }
}
