import Foundation
import Testing

/// `tcpkeep audit` against real processes holding real loopback connections.
@Suite("tcpkeep audit")
struct AuditCommandTests {
    struct Audit {
        let result: ProcessResult
        let connections: [[String: Any]]
        let summary: [String: Any]

        /// The connection from local port `local` to remote port `remote`.
        func connection(_ local: Int, _ remote: Int) -> [String: Any]? {
            connections.first {
                ($0["local"] as? String)?.hasSuffix(":\(local)") == true && ($0["remote"] as? String)?.hasSuffix(":\(remote)") == true
            }
        }
    }

    func audit(_ arguments: [String], prefix: [String] = []) throws -> Audit {
        let result = try runProcess(prefix + [Artifacts.tcpkeep, "audit", "--format", "json"] + arguments)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let parsed = try #require(object, "not JSON: \(result)")
        return Audit(
            result: result, connections: try #require(parsed["connections"] as? [[String: Any]]),
            summary: try #require(parsed["summary"] as? [String: Any]))
    }

    @Test("each status, the process, and addresses as an operator reads them")
    func statuses() throws {
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "6:keepalive:30", "mapped:keepalive:40:5:3", "4:stalled:30"])
        defer { holder.stop() }
        let held = holder.connections
        let report = try audit(["--pid", "\(holder.pid)"])
        #expect(report.result.status == 0 && report.result.stderr.isEmpty, "\(report.result)")
        #expect(report.connections.count == 8, "\(report.result)")

        let expected: [(HeldConnection, String, String)] = [
            (held[0], "missing", "127.0.0.1"), (held[1], "ok", "[::1]"), (held[2], "ok", "127.0.0.1"), (held[3], "unknown", "127.0.0.1"),
        ]
        for (connection, clientStatus, host) in expected {
            let client = try #require(report.connection(connection.client, connection.server), "client \(connection)")
            let server = try #require(report.connection(connection.server, connection.client), "server \(connection)")
            #expect(client["status"] as? String == clientStatus, "client of connection \(connection.index)")
            #expect(server["status"] as? String == "missing", "server of connection \(connection.index) sets no keepalive")
            // The mapped connection's server side is ::ffff:127.0.0.1 in tcp6, shown as IPv4.
            #expect(server["local"] as? String == "\(host):\(connection.server)")
            #expect(client["remote"] as? String == "\(host):\(connection.server)")
            for socket in [client, server] {
                #expect(socket["pid"] as? Int == Int(holder.pid))
                #expect(socket["process"] as? String == "holder")
                #expect(socket["executable"] as? String == (try? Artifacts.holder.get()))
                #expect(socket["state"] as? String == "ESTABLISHED")
                #expect(socket.keys.contains("unit"))
            }
        }
        let keepalive = try #require(report.connection(held[1].client, held[1].server))
        #expect(keepalive["timer"] as? String == "keepalive")
        #expect((keepalive["timer_seconds"] as? Double).map { $0 > 20 && $0 <= 30 } == true)
        #expect(report.connection(held[0].client, held[0].server)?["timer_seconds"] is NSNull)
        let stalled = try #require(report.connection(held[3].client, held[3].server))
        // Unsent or unacknowledged data: the kernel shows one of these timers, not keepalive.
        #expect(["zero-window-probe", "retransmit"].contains(stalled["timer"] as? String ?? ""))
        #expect(report.summary["ok"] as? Int == 2 && report.summary["missing"] as? Int == 5 && report.summary["unknown"] as? Int == 1)
        #expect(report.summary["too-slow"] as? Int == 0 && report.summary["probing"] as? Int == 0 && report.summary["connections"] as? Int == 8)
        #expect(report.summary["unmapped_sockets"] as? Int == 0)
    }

    @Test("--max-idle, --check and the filters")
    func checkAndFilters() throws {
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:keepalive:30", "6:keepalive:40", "4:none"])
        defer { holder.stop() }
        let held = holder.connections
        let pid = ["--pid", "\(holder.pid)"]
        let slow = try audit(pid + ["--max-idle", "35s"])
        #expect(slow.connection(held[0].client, held[0].server)?["status"] as? String == "ok")
        #expect(slow.connection(held[1].client, held[1].server)?["status"] as? String == "too-slow")
        #expect(slow.result.status == 0, "without --check the status is 0 whenever the audit ran")
        #expect(try audit(pid + ["--check"]).result.status == 1)

        let byPort = try audit(["--port", "\(held[2].server)"])
        #expect(byPort.connections.count == 2)
        let low = min(held[0].server, held[1].server), high = max(held[0].server, held[1].server)
        let range = try audit(["--port", "\(low)-\(high)", "--port", "\(held[2].client)"] + pid)
        #expect(range.connections.count == 6)
        #expect(try audit(["--process", "holder"] + pid).connections.count == 6)
        #expect(try audit(["--process", "no-such-process"]).connections.isEmpty)
        #expect(try audit(["--unit", "no-such.service"]).connections.isEmpty)
        // A misspelled filter must not pass a check.
        for filter in [["--unit", "no-such.service"], ["--process", "no-such-process"]] {
            let nothing = try runProcess([Artifacts.tcpkeep, "audit", "--check"] + filter)
            #expect(nothing.status == 2 && nothing.stderr.contains("--check: no connection matched the selection"), "\(nothing)")
        }
        #expect(try audit(["--process", "holder", "--port", "\(held[2].server)", "--check"]).result.status == 1)
    }

    @Test("a program under tcpkeep run: every connection ok, --check passes, --exact reads the shim's values")
    func underTheShim() throws {
        let holder = try RunningProgram(
            [Artifacts.tcpkeep, "run", "--idle", "20", "--interval", "5", "--count", "3", "--user-timeout", "35s", "--",
             try Artifacts.holder.get(), "4:none", "6:none", "mapped:none"])
        defer { holder.stop() }
        let pid = ["--pid", "\(holder.pid)"]
        let report = try audit(pid + ["--check"])
        #expect(report.result.status == 0, "\(report.result)")
        #expect(report.connections.count == 6 && report.connections.allSatisfy { $0["status"] as? String == "ok" })
        try requireRoot()
        let exact = try audit(pid + ["--exact", "--all"])
        #expect(exact.connections.count == 9, "six connections and three listeners")
        for connection in exact.connections {
            let options = try #require(connection["options"] as? [String: Any], "\(connection)")
            #expect(options["keepalive"] as? Bool == true)
            #expect(options["idle_seconds"] as? Int == 20 && options["interval_seconds"] as? Int == 5)
            #expect(options["count"] as? Int == 3 && options["user_timeout_ms"] as? Int == 35000)
        }
    }

    @Test("--exact turns unknown into a verdict and makes --max-idle exact")
    func exactOptions() throws {
        try requireRoot()
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:stalled:30", "4:keepalive:40:5:3"])
        defer { holder.stop() }
        let held = holder.connections
        let report = try audit(["--pid", "\(holder.pid)", "--exact", "--max-idle", "35"])
        let stalled = try #require(report.connection(held[0].client, held[0].server))
        #expect(stalled["status"] as? String == "ok")
        #expect((stalled["options"] as? [String: Any])?["idle_seconds"] as? Int == 30)
        let slow = try #require(report.connection(held[1].client, held[1].server))
        #expect(slow["status"] as? String == "too-slow")
        let options = try #require(slow["options"] as? [String: Any])
        #expect(options["idle_seconds"] as? Int == 40 && options["interval_seconds"] as? Int == 5 && options["count"] as? Int == 3)
        #expect(report.connection(held[0].server, held[0].client)?["status"] as? String == "missing")
    }

    @Test("--netns-of reads another namespace; a peer that stops answering shows as probing")
    func probingInANamespace() throws {
        let namespace = try NetworkNamespace("audit")
        defer { namespace.delete() }
        let holder = try RunningProgram(namespace.command([try Artifacts.holder.get(), "4:keepalive:1:1:100"]))
        defer { holder.stop() }
        let held = holder.connections[0]
        #expect(try audit(["--pid", "\(holder.pid)"]).connections.isEmpty, "the host's namespace has none of its connections")
        try namespace.dropEverything()
        // Idle 1 s, then a probe a second: within a few seconds some go unanswered.
        var client: [String: Any]? = nil
        for _ in 0..<50 {
            client = try audit(["--netns-of", "\(holder.pid)", "--pid", "\(holder.pid)"]).connection(held.client, held.server)
            if (client?["probes"] as? Int ?? 0) >= 2 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(client?["status"] as? String == "probing", "\(String(describing: client))")
        #expect((client?["probes"] as? Int ?? 0) >= 2)
        let check = try audit(["--netns-of", "\(holder.pid)", "--pid", "\(holder.pid)", "--check"])
        #expect(check.result.status == 1, "the server side has no keepalive")
    }

    @Test("the table groups by process and ends with a summary; Prometheus gauges add up")
    func textFormats() throws {
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:keepalive:30", "4:none"])
        defer { holder.stop() }
        let table = try runProcess([Artifacts.tcpkeep, "audit", "--pid", "\(holder.pid)"])
        #expect(table.lines.first?.hasPrefix("holder (pid \(holder.pid), ") == true, "\(table)")
        #expect(table.lines.contains { $0.hasPrefix("  ok ") && $0.contains("keepalive ") })
        #expect(table.lines.last == "4 connections: 1 ok, 3 missing, 0 too-slow, 0 probing, 0 unknown; read with netlink")

        let directory = Artifacts.scratch.appendingPathComponent("metrics-\(holder.pid)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let output = directory.appendingPathComponent("tcpkeep.prom").path
        let prometheus = try runProcess([Artifacts.tcpkeep, "audit", "--pid", "\(holder.pid)", "--format", "prometheus", "--output", output])
        #expect(prometheus.status == 0 && prometheus.stdout.isEmpty)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains(#"tcpkeep_connections_by_status{status="missing"} 3"#))
        #expect(text.contains(#"tcpkeep_connections_by_status{status="probing"} 0"#))
        #expect(text.contains("tcpkeep_unmapped_sockets 0"))
        let missing = text.split(separator: "\n").first { $0.hasPrefix(#"tcpkeep_connections{process="holder","#) && $0.contains(#"status="missing"}"#) }
        #expect(missing?.hasSuffix(" 3") == true, "\(text)")
        let relative = try runProcess([Artifacts.tcpkeep, "audit", "--format", "prometheus", "--output", "relative.prom"], in: directory)
        #expect(relative.status == 0, "\(relative)")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("relative.prom").path))
        for notAFile in ["", "/", "\(directory.path)/"] {
            let refused = try runProcess([Artifacts.tcpkeep, "audit", "--output", notAFile])
            #expect(refused.status == 2 && refused.stderr == "tcpkeep: cannot write '\(notAFile)': Is a directory\n", "\(refused)")
        }
        let noParent = directory.appendingPathComponent("no/such/dir/f.prom").path
        let orphan = try runProcess([Artifacts.tcpkeep, "audit", "--output", noParent])
        #expect(orphan.status == 2 && orphan.stderr == "tcpkeep: cannot write \(noParent): No such file or directory\n", "\(orphan)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("no").path), "a missing directory was made")
        let unwritable = try runProcess([Artifacts.tcpkeep, "audit", "--format", "prometheus", "--output", "/proc/tcpkeep.prom"])
        #expect(unwritable.status == 2 && unwritable.stderr.hasPrefix("tcpkeep: cannot "), "\(unwritable)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["relative.prom", "tcpkeep.prom"],
                "no temporary file is left")
    }

    @Test("without root it counts the sockets it could not map, and says why; --exact is refused")
    func withoutRoot() throws {
        try requireRoot()
        try requireProgram("setpriv")
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none"])
        defer { holder.stop() }
        let held = holder.connections[0]
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        let report = try audit(["--port", "\(held.server)"], prefix: nobody)
        #expect(report.result.status == 0, "\(report.result)")
        #expect(report.summary["unmapped_sockets"] as? Int == 2)
        #expect((report.summary["unreadable_processes"] as? Int ?? 0) >= 1)
        #expect((report.summary["unmapped_reason"] as? String)?.contains("readable by root only") == true)
        #expect(report.connections.allSatisfy { $0["pid"] is NSNull })
        let table = try runProcess(nobody + [Artifacts.tcpkeep, "audit", "--port", "\(held.server)"])
        #expect(table.lines.last?.contains("2 sockets not mapped to a process (the open files of ") == true, "\(table)")
        // With an owner filter the unmapped sockets may be the selection's: --check cannot pass.
        let filtered = try runProcess(nobody + [Artifacts.tcpkeep, "audit", "--process", "holder", "--port", "\(held.server)", "--check"])
        #expect(filtered.status == 2, "\(filtered)")
        #expect(filtered.stderr.contains("--check cannot vouch for the selection: 2 sockets could not be mapped to a process"), "\(filtered)")
        let exact = try runProcess(nobody + [Artifacts.tcpkeep, "audit", "--exact", "--port", "\(held.server)"])
        #expect(exact.status == 2)
        #expect(exact.stderr == "tcpkeep: --exact reads other processes' sockets, which needs root or CAP_SYS_PTRACE\n", "\(exact)")
        #expect(exact.stdout.isEmpty)
    }

    @Test("bad arguments exit 2 before anything is read", arguments: [
        (["--port", "70000"], "The value '70000' is invalid for '--port <port>': not a port"),
        (["--port", "9-1"], "The value '9-1' is invalid for '--port <port>': not a port"),
        (["--max-idle", "0"], "The value '0' is invalid for '--max-idle <duration>': not a duration"),
        (["--format", "xml"], "xml"),
        (["--unit", "../../x"], "'../../x' is a path"),
        (["--unit", "a b"], "is not allowed in a unit name"),
        (["--netns-of", "2147483647"], "--netns-of 2147483647: no such process"),
        (["--pid", "2147483647", "--check"], "--pid 2147483647: no such process"),
    ])
    func badArguments(arguments: [String], message: String) throws {
        let result = try runProcess([Artifacts.tcpkeep, "audit"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
    }
}
