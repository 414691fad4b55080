import Foundation
import Testing

/// `tcpkeep doctor` on real files, real processes and a unit under --root.
@Suite("tcpkeep doctor")
struct DoctorCommandTests {
    struct Doctor {
        let result: ProcessResult
        let object: [String: Any]

        var reachable: Bool? { object["reachable"] as? Bool }
        var obstacles: [String] { (object["obstacles"] as? [[String: Any]] ?? []).compactMap { $0["obstacle"] as? String } }
        var target: [String: Any] { object["target"] as? [String: Any] ?? [:] }
        var notes: [String] { object["notes"] as? [String] ?? [] }
    }

    func doctor(_ arguments: [String], environment: [String: String] = [:]) throws -> Doctor {
        let result = try runProcess([Artifacts.tcpkeep, "doctor", "--format", "json"] + arguments, environment: environment)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return Doctor(result: result, object: try #require(object, "not JSON: \(result)"))
    }

    func text(_ arguments: [String]) throws -> ProcessResult {
        try runProcess([Artifacts.tcpkeep, "doctor"] + arguments)
    }

    /// A copy of /bin/true in the scratch directory, changed by `prepare`.
    static func copyOfTrue(_ name: String, prepare: (String) throws -> Void) throws -> String {
        let path = Artifacts.scratch.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: path)
        try prepare(path)
        return path
    }

    /// A real Go program where the toolchain is installed (make test installs it); elsewhere a
    /// copy of /bin/true with a .go.buildinfo section, which is what the verdict reads.
    static let goProgram = Result { () throws -> String in
        if !isInstalled("go") && !runningInCI {
            return try copyOfTrue("go-like") { path in
                let blob = Artifacts.scratch.appendingPathComponent("buildinfo-\(UUID().uuidString)").path
                try Data("\u{ff} Go buildinf:".utf8).write(to: URL(fileURLWithPath: blob))
                let added = try runProcess(["objcopy", "--add-section", ".go.buildinfo=\(blob)", "/bin/true", path + ".tmp"])
                guard added.status == 0 else { throw Artifacts.CompileFailed(result: added) }
                try FileManager.default.removeItem(atPath: path)
                try FileManager.default.moveItem(atPath: path + ".tmp", toPath: path)
            }
        }
        try requireProgram("go")
        let source = Artifacts.scratch.appendingPathComponent("dialer.go")
        try "package main\n\nimport \"net\"\n\nfunc main() { net.Dial(\"tcp\", \"127.0.0.1:1\") }\n"
            .write(to: source, atomically: true, encoding: .utf8)
        let output = Artifacts.scratch.appendingPathComponent("go-program").path
        let built = try runProcess(
            ["go", "build", "-o", output, source.path],
            environment: ["GOCACHE": Artifacts.scratch.appendingPathComponent("go-cache").path, "GO111MODULE": "off"])
        guard built.status == 0 else { throw Artifacts.CompileFailed(result: built) }
        return output
    }

    @Test("each kind of program gets its verdict and exit status, in text and JSON")
    func programs() throws {
        try requireRoot()
        try requireProgram("setcap")
        let setuid = try Self.copyOfTrue("setuid") { try FileManager.default.setAttributes([.posixPermissions: 0o4755], ofItemAtPath: $0) }
        let setgid = try Self.copyOfTrue("setgid") { try FileManager.default.setAttributes([.posixPermissions: 0o2755], ofItemAtPath: $0) }
        let capabilities = try Self.copyOfTrue("capabilities") { path in
            let result = try runProcess(["setcap", "cap_net_bind_service=+ep", path])
            try #require(result.status == 0, "\(result)")
        }
        let cases: [(String, [String], String)] = [
            ("/bin/true", [], ""),
            (try PreloadReachTests.staticProgram.get(), ["statically-linked"], "it is statically linked"),
            (try Self.goProgram.get(), ["go-program"], "it is a Go program"),
            (setuid, ["setuid"], "it is set-user-ID"),
            (setgid, ["setgid"], "it is set-group-ID"),
            (capabilities, ["file-capabilities"], "it has file capabilities"),
        ]
        for (path, obstacles, reason) in cases {
            let report = try doctor([path])
            #expect(report.result.status == (obstacles.isEmpty ? 0 : 1), "\(report.result)")
            #expect(report.reachable == obstacles.isEmpty && report.obstacles == obstacles, "\(report.result)")
            #expect(report.target["kind"] as? String == "program" && report.target["path"] as? String == path)
            #expect(report.object["shim_loaded"] is NSNull && report.object["connections"] is NSNull)
            let text = try text([path])
            #expect(text.status == report.result.status)
            #expect(text.lines.first == "program \(path)")
            #expect(text.lines.last == (obstacles.isEmpty ? "verdict: the shim reaches it" : "verdict: the shim does not reach it"))
            if !obstacles.isEmpty {
                #expect(text.stdout.contains("  obstacle: \(reason)"), "\(text)")
                // What to do instead, each time: the program's own setting or tcpkeep fix, and KeepAlive=.
                let advice = try #require((report.object["obstacles"] as? [[String: Any]])?.first?["advice"] as? String)
                #expect(advice.contains("tcpkeep fix --pid") && advice.contains("KeepAlive="), "\(advice)")
                #expect(text.stdout.contains("    instead: \(advice)"))
            }
        }
    }

    @Test("a bare command name is searched in PATH like the shell")
    func searchesPath() throws {
        let directory = Artifacts.scratch.appendingPathComponent("path-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let installed = directory.appendingPathComponent("static-command").path
        try FileManager.default.copyItem(atPath: try PreloadReachTests.staticProgram.get(), toPath: installed)
        // A file that is not executable earlier in PATH is passed over, as the shell does.
        let shadow = Artifacts.scratch.appendingPathComponent("shadow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: shadow, withIntermediateDirectories: true)
        try Data().write(to: shadow.appendingPathComponent("static-command"))
        let report = try doctor(["static-command"], environment: ["PATH": "\(shadow.path):\(directory.path):/usr/bin:/bin"])
        #expect(report.result.status == 1 && report.target["path"] as? String == installed, "\(report.result)")
        #expect(report.obstacles == ["statically-linked"])
        let missing = try text(["no-such-command-\(getpid())"])
        #expect(missing.status == 2 && missing.stderr == "tcpkeep: no-such-command-\(getpid()): command not found in PATH\n", "\(missing)")
    }

    @Test("a process under tcpkeep run has the shim loaded; its settings and connections are read back")
    func processUnderTheShim() throws {
        try requireRoot()
        let holder = try RunningProgram(
            [Artifacts.tcpkeep, "run", "--idle", "20", "--interval", "5", "--count", "3", "--", try Artifacts.holder.get(), "4:none", "6:none"])
        defer { holder.stop() }
        let report = try doctor(["--pid", "\(holder.pid)"])
        #expect(report.result.status == 0 && report.reachable == true, "\(report.result)")
        #expect(report.object["shim_loaded"] as? Bool == true)
        #expect(report.target["pid"] as? Int == Int(holder.pid) && report.target["path"] as? String == (try? Artifacts.holder.get()))
        let connections = try #require(report.object["connections"] as? [String: Any])
        #expect(connections["connections"] as? Int == 4 && connections["ok"] as? Int == 4)
        let settings = try #require(report.object["settings"] as? [String: Any])
        let environment = try #require(settings["environment"] as? [String: String])
        #expect(environment["KEEPIDLE"] == "20" && environment["KEEPINTVL"] == "5" && environment["KEEPCNT"] == "3")
        #expect(environment["LD_PRELOAD"] == Artifacts.shim)
        let sockets = try #require(settings["sockets"] as? [[String: Any]])
        #expect(sockets.count == 1 && sockets.first?["idle_seconds"] as? Int == 20 && sockets.first?["connections"] as? Int == 4)
        let text = try text(["--pid", "\(holder.pid)"])
        #expect(text.status == 0 && text.stdout.contains("  shim: loaded\n") && text.lines.last == "verdict: the shim reaches it", "\(text)")
    }

    @Test("a process started without it: not loaded, exit 1, and tcpkeep fix suggested for its open connections")
    func processWithoutTheShim() throws {
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "4:keepalive:30"])
        defer { holder.stop() }
        let report = try doctor(["--pid", "\(holder.pid)"])
        #expect(report.result.status == 1 && report.reachable == false, "\(report.result)")
        #expect(report.object["shim_loaded"] as? Bool == false && report.obstacles.isEmpty)
        let connections = try #require(report.object["connections"] as? [String: Any])
        #expect(connections["missing"] as? Int == 3 && connections["ok"] as? Int == 1)
        #expect(report.notes.contains { $0.contains("the shim is not loaded") })
        #expect(report.notes.contains("3 connections lack keepalive: tcpkeep fix --pid \(holder.pid) turns it on without a restart"))
        let text = try text(["--pid", "\(holder.pid)"])
        #expect(text.status == 1 && text.stdout.contains("  shim: not loaded (not in /proc/\(holder.pid)/maps)"), "\(text)")
    }

    @Test("redis-server overwrites its environment: the maps still show the shim")
    func overwrittenEnvironment() throws {
        try requireRoot()
        try requireProgram("redis-server")
        let port = 20000 + Int(getpid() % 10000)
        let redis = try RunningProgram(
            [Artifacts.tcpkeep, "run", "--idle", "20", "--", "redis-server", "--port", "\(port)", "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", Artifacts.scratch.path],
            readyLine: "Ready to accept connections")
        defer { redis.stop() }
        // The premise: the environment area no longer holds LD_PRELOAD.
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(redis.pid)/environ"))
        #expect(!String(decoding: environ, as: UTF8.self).contains("LD_PRELOAD="))
        let report = try doctor(["--pid", "\(redis.pid)"])
        #expect(report.result.status == 0 && report.object["shim_loaded"] as? Bool == true, "\(report.result)")
        #expect((report.object["settings"] as? [String: Any])?["environment"] is NSNull)
        #expect(report.notes.contains { $0.contains("overwrote its environment area") }, "\(report.notes)")
        let bare = try RunningProgram(
            ["redis-server", "--port", "\(port + 1)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", Artifacts.scratch.path],
            readyLine: "Ready to accept connections")
        defer { bare.stop() }
        let without = try doctor(["--pid", "\(bare.pid)"])
        #expect(without.result.status == 1 && without.object["shim_loaded"] as? Bool == false, "\(without.result)")
    }

    /// A root holding app.service, which runs `program` installed at /usr/bin/app.
    func unitRoot(program: String, socket: Bool = false) throws -> URL {
        let root = Artifacts.scratch.appendingPathComponent("doctor-\(UUID().uuidString)")
        let bin = root.appendingPathComponent("usr/bin"), units = root.appendingPathComponent("lib/systemd/system")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: program, toPath: bin.appendingPathComponent("app").path)
        try "[Service]\nExecStart=-app --flag\n".write(to: units.appendingPathComponent("app.service"), atomically: true, encoding: .utf8)
        if socket {
            try "[Socket]\nListenStream=8080\n".write(to: units.appendingPathComponent("app.socket"), atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test("a unit: its ExecStart program, and the program alone where systemd does not run it")
    func unit() throws {
        let dynamic = try unitRoot(program: "/bin/true")
        defer { try? FileManager.default.removeItem(at: dynamic) }
        let reached = try doctor(["--unit", "app", "--root", dynamic.path])
        #expect(reached.result.status == 0 && reached.reachable == true, "\(reached.result)")
        #expect(reached.target["kind"] as? String == "unit" && reached.target["unit"] as? String == "app.service")
        #expect(reached.target["path"] as? String == dynamic.path + "/usr/bin/app")
        #expect(reached.target["pid"] is NSNull)
        #expect(reached.notes.contains { $0.hasSuffix("checked the program alone") }, "\(reached.notes)")

        let staticRoot = try unitRoot(program: try PreloadReachTests.staticProgram.get(), socket: true)
        defer { try? FileManager.default.removeItem(at: staticRoot) }
        let refused = try doctor(["--unit", "app.service", "--root", staticRoot.path])
        #expect(refused.result.status == 1 && refused.obstacles == ["statically-linked"], "\(refused.result)")
        #expect(refused.notes.contains("app.socket passes sockets in, which LD_PRELOAD does not reach: tcpkeep systemd app.socket sets its KeepAlive="))
        let text = try text(["--unit", "app", "--root", staticRoot.path])
        #expect(text.status == 1 && text.lines.prefix(3) == ["unit app.service", "  program: \(staticRoot.path)/usr/bin/app", "  main process: none"], "\(text)")
    }

    @Test("what is not a program, or cannot be judged, gets no verdict: exit 2 and what could not be checked")
    func noVerdictWithoutAProgram() throws {
        let noise = Artifacts.scratch.appendingPathComponent("noise-\(UUID().uuidString)").path
        try Data((0..<2048).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: noise))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: noise)
        let cases = [
            ("/etc/passwd", "tcpkeep: /etc/passwd is not a program"),
            (noise, "tcpkeep: \(noise) is not a program"),
            (Artifacts.scratch.path, "tcpkeep: \(Artifacts.scratch.path) is a directory, not a program"),
        ]
        for (target, message) in cases {
            let result = try text([target])
            #expect(result.status == 2 && result.stdout.isEmpty && result.stderr.hasPrefix(message), "\(result)")
        }
        let missing = try unitRoot(program: "/bin/true")
        defer { try? FileManager.default.removeItem(at: missing) }
        try FileManager.default.removeItem(at: missing.appendingPathComponent("usr/bin/app"))
        let unit = try text(["--unit", "app", "--root", missing.path])
        #expect(unit.status == 2 && unit.stdout.isEmpty, "\(unit)")
        #expect(unit.stderr.contains("cannot check app.service: its program cannot be judged: app is in none of \(missing.path)/usr/local/sbin, "), "\(unit)")
    }

    @Test("a script is judged by the interpreter that runs it, found through env as env finds it")
    func scripts() throws {
        let directory = Artifacts.scratch.appendingPathComponent("scripts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let staticInterpreter = try PreloadReachTests.staticProgram.get()
        try FileManager.default.copyItem(atPath: staticInterpreter, toPath: directory.appendingPathComponent("static-shell").path)
        let direct = directory.appendingPathComponent("direct"), viaEnv = directory.appendingPathComponent("via-env")
        try "#!/bin/sh\necho hi\n".write(to: direct, atomically: true, encoding: .utf8)
        try "#!/usr/bin/env static-shell -x\n".write(to: viaEnv, atomically: true, encoding: .utf8)
        for script in [direct, viaEnv] { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path) }
        let reached = try doctor([direct.path])
        #expect(reached.result.status == 0 && reached.notes.contains { $0.contains("is a script: ") }, "\(reached.result)")
        let refused = try doctor([viaEnv.path], environment: ["PATH": directory.path + ":/usr/bin:/bin"])
        #expect(refused.result.status == 1 && refused.obstacles == ["statically-linked"], "\(refused.result)")
        #expect(refused.notes.contains("\(viaEnv.path) is a script: \(directory.path)/static-shell runs it, and that is what LD_PRELOAD must reach"), "\(refused.notes)")
    }

    @Test("bad targets exit 2 with the reason", arguments: [
        ([], "name one target"),
        (["/bin/true", "--pid", "1"], "name one target"),
        (["/no/such/program"], "tcpkeep: /no/such/program: no such file"),
        (["--pid", "0"], "--pid: '0' is not a process ID"),
        (["--pid", "2147483647"], "tcpkeep: --pid 2147483647: no such process"),
        (["--unit", "a/b"], "is a path"),
        (["--unit", "app.socket"], "is a socket unit"),
        (["--unit", "app", "--root", "/no/such/dir"], "--root: '/no/such/dir' is not a directory"),
        (["/bin/true", "--root", "/"], "--root applies to --unit"),
        (["--unit", "no-such-unit-here", "--root", "/tmp"], "tcpkeep: no unit file for no-such-unit-here.service in /tmp/etc/systemd/system"),
        (["/bin/true", "--format", "xml"], "xml"),
    ])
    func badTargets(arguments: [String], message: String) throws {
        let result = try text(arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        #expect(result.stdout.isEmpty)
    }
}
