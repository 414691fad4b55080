import Foundation
import Testing

/// `tcpkeep agent` on the real kernel: a policy file, test cgroups made under the policy's root
/// while the agent runs, static programs moved into them, their sockets read back; podman
/// containers; the kernel's own view (bpftool); the metrics endpoint over real HTTP. Nested in
/// kernel mode's serialized suite: the agent's pins come and go under /sys/fs/bpf/tcpkeep, which
/// those tests count.
extension KernelModeTests {
    @Suite("Agent", .serialized)
    struct AgentTests {
        static let ruleOne = ["keepalive": "1", "idle": "11", "interval": "2", "count": "3"]
        static let ruleTwo = ["keepalive": "1", "idle": "30", "interval": "5", "count": "3", "user_timeout": "45000"]
        static let fallback = ["keepalive": "1", "idle": "99", "interval": "9", "count": "9"]

        /// A policy whose root is the test's cgroup: batch-* gets rule one (enforced), web-* the
        /// datacenter profile, anything else under the root the default.
        static func policy(root: String, idle: String = "11s", extra: String = "") -> String {
            """
            root: \(root)
            rules:
              - match: {cgroup: "\(root)/batch-*"}
                idle: \(idle)
                interval: 2s
                count: 3
                enforce: true
              - match: {cgroup: "\(root)/web-*"}
                profile: datacenter
            default: {idle: 99, interval: 9, count: 9}
            \(extra)
            """
        }

        /// A test cgroup, and the agent running on `policy(root:)` rooted at it.
        static func startAgent(_ name: String) throws -> (root: KernelModeTests.TestCgroup, agent: AgentProcess) {
            let root = try KernelModeTests.TestCgroup(name)
            return (root, try AgentProcess(policy: policy(root: root.relative), cgroups: root))
        }

        /// The same, and one cgroup made under the root once the agent runs, tracked when this returns.
        static func startAgent(_ name: String, child: String) throws -> (root: KernelModeTests.TestCgroup, agent: AgentProcess, child: String) {
            let (root, agent) = try startAgent(name)
            do {
                let path = try root.child(child)
                try agent.waitForMetric("tcpkeep_agent_cgroups_tracked", 2)
                return (root, agent, path)
            } catch {
                agent.stop()
                throw error
            }
        }

        /// The options the connection of a static client in `cgroup` got.
        static func connect(from cgroup: String?) throws -> [String: String] {
            let probe = try Artifacts.staticProbe.get()
            return try KernelModeTests().connect { port in
                guard let cgroup else { return [probe, "connect", port] }
                return ["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup, probe, "connect", port]
            }
        }

        /// The idle time a static client in `cgroup` has after setting 600 s itself.
        static func loosenedIdle(in cgroup: String) throws -> String? {
            let server = try RunningProgram([try Artifacts.staticProbe.get(), "serve"], readyLine: "port ")
            defer { server.stop() }
            let port = try #require(server.lines.first { $0.hasPrefix("port ") }).dropFirst("port ".count)
            let result = try runProcess(
                ["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup, try Artifacts.staticProbe.get(), "enforce", String(port)])
            return result.lines.first { $0.hasPrefix("loosen-idle-600 ") }.map(fields(of:))?["idle"]
        }

        static func subset(_ fields: [String: String], _ expected: [String: String]) -> [String: String] {
            fields.filter { expected[$0.key] != nil }
        }

        @Test("two rules and a default: cgroups made after the agent started get rule one's, rule two's and the default's values; a process outside is untouched")
        func rules() throws {
            let (root, agent) = try Self.startAgent("agent-rules")
            defer { agent.stop() }
            let one = try root.child("batch-1"), two = try root.child("web-1"), other = try root.child("other")
            try agent.waitForMetric("tcpkeep_agent_cgroups_tracked", 4)
            #expect(try Self.subset(Self.connect(from: one), Self.ruleOne) == Self.ruleOne)
            #expect(try Self.subset(Self.connect(from: two), Self.ruleTwo) == Self.ruleTwo)
            #expect(try Self.subset(Self.connect(from: other), Self.fallback) == Self.fallback)
            // Below a matching cgroup: the same rule, whether or not the agent has seen it yet.
            let deeper = try root.child("batch-1/job/step")
            #expect(try Self.subset(Self.connect(from: deeper), Self.ruleOne) == Self.ruleOne)
            #expect(try Self.connect(from: nil)["keepalive"] == "0", "a process outside the policy's root got keepalive")
            // Rule one enforces: a program's setsockopt() loosening idle is rewritten; rule two's is not.
            #expect(try Self.loosenedIdle(in: one) == "11")
            #expect(try Self.loosenedIdle(in: two) == "600")
            // kernel status and doctor name the agent's attachment for what it is.
            let status = try runProcess([Artifacts.tcpkeep, "kernel", "status"])
            #expect(status.lines.contains { $0.contains(root.path) && $0.contains("per cgroup, by tcpkeep agent's policy") }, "\(status)")
            // Kernel mode's counters, by policy entry: each client's connection (the servers are
            // outside the root, so not counted), and the rewritten setsockopt() calls.
            let metrics = try agent.get("/metrics").body
            #expect(metrics.contains("\ntcpkeep_agent_setsockopt_enforced_total{entry=\"rule 2\"} 0\n"), "\(metrics)")
            #expect(!metrics.contains("\ntcpkeep_agent_setsockopt_enforced_total{entry=\"rule 1\"} 0\n"), "\(metrics)")
            for (entry, count) in [("rule 1", "3"), ("rule 2", "2"), ("default", "1")] {
                let series = "tcpkeep_agent_connections_configured_total{entry=\"\(entry)\",direction=\"active\"} \(count)"
                #expect(metrics.contains("\n\(series)\n"), "no '\(series)' in \(metrics)")
            }
            #expect(agent.log.contains("cgroup matched") && agent.log.contains("batch-1"), "\(agent.log)")
        }

        @Test("a podman container started with --annotation tcpkeep.io/profile=datacenter gets the datacenter values; one without, nothing; one named by a container: rule, that rule's")
        func podmanAnnotation() throws {
            try requireProgram("podman")
            let root = try KernelModeTests.TestCgroup("agent-podman")
            let name = "tkname-\(getpid())"
            let policy = """
                root: \(root.relative)
                rules:
                  - match: {annotation: "tcpkeep.io/profile=datacenter"}
                    profile: datacenter
                  - match: {container: "tkname-"}
                    profile: lan
                """
            let agent = try AgentProcess(policy: policy, cgroups: root)
            defer { agent.stop() }
            let image = try ProbeImage.name()
            func run(_ annotation: [String]) throws -> [String: String] {
                let server = try RunningProgram([try Artifacts.staticProbe.get(), "serve"], readyLine: "port ")
                defer { server.stop() }
                let port = try #require(server.lines.first { $0.hasPrefix("port ") }).dropFirst("port ".count)
                let result = try runProcess(
                    ProbeImage.podman + ["run", "--rm", "--network", "host", "--cgroup-parent", "/\(root.relative)", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"] + annotation
                        + [image, "/probe", "connect", String(port)])
                let line = try #require(result.lines.first { $0.hasPrefix("connected") }, "\(result)")
                return fields(of: line)
            }
            #expect(try Self.subset(run(["--annotation", "tcpkeep.io/profile=datacenter"]), Self.ruleTwo) == Self.ruleTwo)
            #expect(try run(["--annotation", "tcpkeep.io/profile=lan"])["keepalive"] == "0")
            // By name, from containers/storage's list: lan's values.
            #expect(try run(["--name", name])["idle"] == "7")
        }

        @Test("a bad reload keeps the policy in force (a new connection still gets it) and sets tcpkeep_agent_policy_valid 0; a good one applies")
        func badReload() throws {
            let (root, agent, one) = try Self.startAgent("agent-reload", child: "batch-1")
            defer { agent.stop() }
            // Both versions are swapped in as a ConfigMap's are (a new folder, the symlink renamed over).
            try agent.swapPolicy(Self.policy(root: root.relative, extra: "bogus: 1\n"))
            try agent.waitForMetric("tcpkeep_agent_policy_valid", 0)
            #expect(try agent.metric("tcpkeep_agent_reload_failures_total") == 1)
            #expect(try Self.subset(Self.connect(from: one), Self.ruleOne) == Self.ruleOne)
            #expect(agent.log.contains("policy refused") && agent.log.contains("unknown key 'bogus'"), "\(agent.log)")
            try agent.swapPolicy(Self.policy(root: root.relative, idle: "12s"))
            try agent.waitForMetric("tcpkeep_agent_policy_valid", 1)
            #expect(try Self.connect(from: one)["idle"] == "12")
            // SIGHUP reloads the file as it is, even unchanged.
            let reloads = try #require(try agent.metric("tcpkeep_agent_reloads_total"))
            kill(agent.process.processIdentifier, SIGHUP)
            try agent.waitForMetric("tcpkeep_agent_reloads_total", reloads + 1)
            #expect(agent.log.contains("reason=SIGHUP"), "\(agent.log)")
        }

        @Test("kill -9, then a restart: connections still configured meanwhile; one attachment (bpftool); the map holds exactly the cgroups that exist")
        func restart() throws {
            let root = try KernelModeTests.TestCgroup("agent-restart")
            var agent = try AgentProcess(policy: Self.policy(root: root.relative), cgroups: root)
            defer { agent.stop() }
            let one = try root.child("batch-1"), gone = try root.child("batch-gone")
            try agent.waitForMetric("tcpkeep_agent_cgroups_tracked", 3)
            agent.kill9()
            // No agent: the pinned program goes on configuring, from the map as it was; a cgroup
            // made meanwhile gets its parent's entry (the default).
            #expect(try Self.subset(Self.connect(from: one), Self.ruleOne) == Self.ruleOne)
            let made = try root.child("batch-2")
            #expect(try Self.subset(Self.connect(from: made), Self.fallback) == Self.fallback)
            rmdir(gone)
            agent = try AgentProcess(policy: Self.policy(root: root.relative), cgroups: root, policyPath: agent.policyPath)
            let attached = try runProcess(["bpftool", "cgroup", "show", root.path])
            #expect(attached.lines.filter { $0.contains("tcpkeep_sockops") }.count == 1, "\(attached)")
            #expect(attached.lines.filter { $0.contains("tcpkeep_setopt") }.count == 1, "\(attached)")
            #expect(try agentMapKeys() == Set([root.path, one, made].map(inode)))
            #expect(try Self.subset(Self.connect(from: made), Self.ruleOne) == Self.ruleOne)
        }

        /// A policy with one rule, the frozen client's timing for `root`'s child `covered`.
        static func frozenClientPolicy(root: KernelModeTests.TestCgroup, covering covered: String) -> String {
            """
            root: \(root.relative)
            rules:
              - match: {cgroup: "\(root.relative)/\(covered)"}
                idle: 2s
                interval: 1s
                count: 3
            """
        }

        /// A frozen client in `cgroup`, freed or not: its result once its peer went silent.
        static func frozenClientResult(in cgroup: String, tag: String) throws -> (errno: Int32, elapsed: TimeInterval) {
            let frozen = FrozenClientTests()
            // ip netns exec mounts a sysfs of the namespace's own over /sys: the cgroup is reached
            // through the root of this process, outside that namespace.
            let (client, hosts, cleanUp) = try frozen.scenario(
                tag, client: ["sh", "-c", "echo $$ > \"/proc/\(getpid())/root$0/cgroup.procs\" && exec \"$@\"", cgroup])
            defer { cleanUp() }
            return try frozen.resultAfterSilence(client, hosts)
        }

        @Test("after kill -9 of the agent, a frozen client in a policy cgroup is still freed within idle + interval x count + 2 s, and the next agent counts it timed out for its rule")
        func frozenClientAfterKill() throws {
            let root = try KernelModeTests.TestCgroup("agent-frozen")
            let policy = Self.frozenClientPolicy(root: root, covering: "frozen")
            let agent = try AgentProcess(policy: policy, cgroups: root)
            defer { agent.stop() }
            let cgroup = try root.child("frozen")
            try agent.waitForMetric("tcpkeep_agent_map_entries", 1)
            agent.kill9()
            let (error, elapsed) = try Self.frozenClientResult(in: cgroup, tag: "ag")
            #expect(error == ETIMEDOUT)
            #expect(elapsed <= FrozenClientTests.bound, "detected after \(elapsed) s")
            // The kernel counted it while no agent ran, in the rule's slot, which the next agent
            // adopts with the pins.
            let next = try AgentProcess(policy: policy, cgroups: root, policyPath: agent.policyPath)
            defer { next.stop() }
            let metrics = try next.get("/metrics").body
            #expect(try next.metric("tcpkeep_agent_connections_timed_out_total{entry=\"rule 1\"}") == 1, "\(metrics)")
            #expect(try next.metric("tcpkeep_agent_connections_configured_total{entry=\"rule 1\",direction=\"active\"}") == 1)
        }

        @Test("a kernel attach inside the agent's tree counts its own frozen client as timed out; the agent's attachment, whose policy does not cover it, counts nothing")
        func nestedAttachmentCountsItsOwn() throws {
            let root = try KernelModeTests.TestCgroup("agent-nested")
            let agent = try AgentProcess(policy: Self.frozenClientPolicy(root: root, covering: "covered"), cgroups: root)
            defer { agent.stop() }
            let inner = try root.child("inner")
            defer { _ = try? runProcess([Artifacts.tcpkeep, "kernel", "detach", "--cgroup", inner]) }
            let attach = try runProcess([Artifacts.tcpkeep, "kernel", "attach", "--cgroup", inner] + FrozenClientTests.keepalive)
            try #require(attach.status == 0, "\(attach)")
            #expect(try Self.frozenClientResult(in: inner, tag: "an").errno == ETIMEDOUT)

            let attachments = try kernelStatusAttachments()
            let own = try #require(attachments.first { $0["cgroup"] as? String == inner }, "\(attachments)")
            let agents = try #require(attachments.first { $0["by_policy"] as? Bool == true }, "\(attachments)")
            #expect((own["counters"] as? [String: Any])?["timed_out"] as? Int == 1, "\(own)")
            #expect((agents["counters"] as? [String: Any])?["timed_out"] as? Int == 0, "\(agents)")
            #expect(try agent.metric("tcpkeep_agent_connections_timed_out_total{entry=\"rule 1\"}") == 0)
        }

        @Test("a second agent with the same root refuses (exit 2) and changes nothing: the first goes on")
        func secondAgent() throws {
            let (root, agent, one) = try Self.startAgent("agent-second", child: "batch-1")
            defer { agent.stop() }
            let second = try runProcess([Artifacts.tcpkeep, "agent", "--config", agent.policyPath, "--listen", "127.0.0.1:0"])
            #expect(second.status == 2 && second.stderr.contains("another tcpkeep agent runs"), "\(second)")
            #expect(agent.isRunning)
            let attached = try runProcess(["bpftool", "cgroup", "show", root.path])
            #expect(attached.lines.filter { $0.contains("tcpkeep_sockops") }.count == 1, "\(attached)")
            #expect(try Self.subset(Self.connect(from: one), Self.ruleOne) == Self.ruleOne)
        }

        @Test("1,000 cgroups made and removed in a burst: the map's entries come back to the starting count")
        func burst() throws {
            let (root, agent) = try Self.startAgent("agent-burst")
            defer { agent.stop() }
            let start = try agentMapKeys().count
            let paths = (0..<1000).map { "\(root.path)/batch-\($0)" }
            for path in paths { mkdir(path, 0o755) }
            try agent.waitForMetric("tcpkeep_agent_map_entries", Double(start + 1000), timeout: 60)
            for path in paths { rmdir(path) }
            try agent.waitForMetric("tcpkeep_agent_map_entries", Double(start), timeout: 60)
            #expect(try agentMapKeys().count == start)
        }

        @Test("a listener made before the agent started keeps what it had: its accepted connection gets nothing; one made after gets the policy")
        func olderListener() throws {
            let root = try KernelModeTests.TestCgroup("agent-listener")
            let older = try root.child("batch-old")
            let probe = try Artifacts.staticProbe.get()
            let serveIn = { (cgroup: String) in
                try RunningProgram(["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup, probe, "serve"], readyLine: "port ")
            }
            let before = try serveIn(older)
            defer { before.stop() }
            let agent = try AgentProcess(policy: Self.policy(root: root.relative), cgroups: root)
            defer { agent.stop() }
            let newer = try root.child("batch-new")
            let after = try serveIn(newer)
            defer { after.stop() }
            for (server, expected) in [(before, "0"), (after, "1")] {
                let port = try #require(server.lines.first { $0.hasPrefix("port ") }).dropFirst("port ".count)
                _ = try runProcess([probe, "connect", String(port)])
                try server.waitForLine(containing: "accepted", timeout: 10)
                let accepted = fields(of: try #require(server.lines.first { $0.hasPrefix("accepted") }))
                #expect(accepted["keepalive"] == expected, "\(accepted)")
            }
        }

        @Test("/metrics passes promtool check metrics; 200 concurrent scrapes all answer; beyond 256 connections the rest are closed; a 1 MiB request line is refused and the endpoint still answers")
        func endpoint() throws {
            try requireProgram("promtool")
            let (_, agent) = try Self.startAgent("agent-metrics")
            defer { agent.stop() }
            let metrics = try agent.get("/metrics")
            #expect(metrics.status == 200)
            // The audit's families, from the audit engine, beside the agent's own.
            #expect(metrics.body.contains("# TYPE tcpkeep_connections_by_status gauge"), "\(metrics.body)")
            #expect(metrics.body.contains("\ntcpkeep_agent_audit_success 1\n"), "\(metrics.body)")
            let checked = try runProcess(["sh", "-c", "promtool check metrics < \"$0\"", try write(metrics.body)])
            #expect(checked.status == 0, "\(checked)")
            // 200 connections open and their requests sent before any answer is read: the endpoint
            // holds them all at once (it takes up to 256), and they share the renders.
            let statuses = try httpRequests(port: agent.port, count: 200, "/metrics").map(\.status)
            #expect(statuses.count == 200 && statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 })")
            // At most 256 connections at once: of 300 silent ones the server closes the 44 beyond
            // the limit at once, and answers again when they are gone.
            let silent = (0..<300).map { _ in connectLoopback(port: agent.port) }
            Thread.sleep(forTimeInterval: 1)
            let closedByServer = silent.filter { fd in
                var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                var byte: UInt8 = 0
                return poll(&probe, 1, 0) == 1 && recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
            }
            silent.forEach { close($0) }
            #expect(closedByServer.count == 44, "\(closedByServer.count) of 300 silent connections closed")
            #expect(try agent.get("/healthz").status == 200)
            let huge = try agent.get("/" + String(repeating: "a", count: 1 << 20))
            #expect(huge.status == 431 || huge.status == -1, "a 1 MiB request line got \(huge.status)")
            #expect(try agent.get("/healthz").status == 200)
            #expect(try agent.get("/metrics", method: "POST").status == 405)
            #expect(agent.isRunning)
            // Quiet at steady state: the one line of the start, nothing per scrape or refusal.
            #expect(agent.log.split(separator: "\n").count == 1, "\(agent.log)")
        }

        @Test("--uninstall removes the program, the maps and the pins, and exits 0 when there is nothing left")
        func uninstall() throws {
            let (root, agent) = try Self.startAgent("agent-uninstall")
            defer { agent.stop() }
            agent.terminate()
            let first = try runProcess([Artifacts.tcpkeep, "agent", "--uninstall"])
            #expect(first.status == 0 && first.stdout.contains("removed"), "\(first)")
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/bpf/tcpkeep/agent"))
            #expect(try !runProcess(["bpftool", "cgroup", "show", root.path]).stdout.contains("tcpkeep"))
            let second = try runProcess([Artifacts.tcpkeep, "agent", "--uninstall"])
            #expect(second.status == 0 && second.stdout.contains("nothing to remove"), "\(second)")
        }

        @Test("a cgroup named with a terminal escape and a line separator (the kernel refuses a line feed) is logged on one line, escaped, and still covered")
        func hostileName() throws {
            let (_, agent, hostile) = try Self.startAgent("agent-hostile", child: "batch-\u{1b}[31mred\u{2028}info: policy applied forged=1")
            defer { agent.stop() }
            #expect(try Self.subset(Self.connect(from: hostile), Self.ruleOne) == Self.ruleOne)
            let lines = agent.log.split(separator: "\n")
            #expect(!agent.log.contains("\u{1b}") && !agent.log.contains("\u{2028}"), "\(agent.log)")
            #expect(lines.filter { $0.hasPrefix("info: policy applied") }.count == 1, "\(agent.log)")
            #expect(lines.contains { $0.hasPrefix("info: cgroup matched") && $0.contains("batch-\\u{1B}[31mred\\u{2028}info: policy applied forged=1") }, "\(agent.log)")
        }

        @Test("the shipped example policy passes --check; the shipped unit passes systemd-analyze verify with nothing on stderr")
        func shippedFiles() throws {
            let example = try runProcess([Artifacts.tcpkeep, "agent", "--config", Artifacts.source("systemd/tcpkeep-agent.yaml"), "--check"])
            #expect(example.status == 0 && example.stdout.contains("3 rules, a default: accepted"), "\(example)")
            try requireProgram("systemd-analyze")
            let unit = try String(contentsOfFile: Artifacts.source("systemd/tcpkeep-agent.service"), encoding: .utf8)
            let staged = Artifacts.scratch.appendingPathComponent("agent-unit-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: staged, withIntermediateDirectories: true)
            let path = staged.appendingPathComponent("tcpkeep-agent.service").path
            try unit.replacingOccurrences(of: "/usr/local/bin/tcpkeep", with: Artifacts.tcpkeep).write(toFile: path, atomically: true, encoding: .utf8)
            let verified = try runProcess(["systemd-analyze", "verify", path])
            #expect(verified.status == 0 && verified.stderr.isEmpty, "\(verified)")
        }

        @Test("a policy refused at start: exit status 2, the line and column named, nothing attached")
        func refusedAtStart() throws {
            let path = try write("rules:\n  - match: {cgroup: \"a/**b\"}\n")
            let result = try runProcess([Artifacts.tcpkeep, "agent", "--config", path])
            #expect(result.status == 2)
            #expect(result.stderr.contains("line 2, column 21"), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/bpf/tcpkeep/agent"))
            let checked = try runProcess([Artifacts.tcpkeep, "agent", "--config", path, "--check"])
            #expect(checked.status == 2 && checked.stderr.contains("line 2, column 21"), "\(checked)")
        }
}
}

/// The keys of the agent's cgroup map, as bpftool dumps them.
func agentMapKeys() throws -> Set<UInt64> {
    let dump = try runProcess(["bpftool", "-j", "map", "dump", "pinned", "/sys/fs/bpf/tcpkeep/agent/cgroups"])
    try #require(dump.status == 0, "\(dump)")
    let entries = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [[String: Any]])
    return Set(entries.compactMap { entry in
        // bpftool -j writes a key as hex bytes (little-endian) and, with BTF, as a number.
        if let formatted = entry["formatted"] as? [String: Any], let key = formatted["key"] as? NSNumber { return key.uint64Value }
        guard let bytes = entry["key"] as? [String] else { return nil }
        return bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1.dropFirst(2), radix: 16)! }
    })
}

/// A cgroup's id: its directory's inode number.
func inode(_ path: String) -> UInt64 {
    var status = stat()
    return stat(path, &status) == 0 ? UInt64(status.st_ino) : 0
}

/// `text` in a scratch file; its path.
func write(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tcpkeep-agent-\(UUID().uuidString)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}


extension KernelModeTests.TestCgroup {
    /// A cgroup below this one (and its parents), removed with it.
    func child(_ relativePath: String) throws -> String {
        let child = "\(path)/\(relativePath)"
        try FileManager.default.createDirectory(atPath: child, withIntermediateDirectories: true)
        return child
    }
}

/// The static probe in a podman image of its own, imported from a folder (no registry here),
/// and podman's flags for this host (runc, cgroupfs, ulimits within the hard limits).
enum ProbeImage {
    static let podman = [
        "podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
    ]
    static let built = Result { () throws -> String in
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tcpkeep-probe-image-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(atPath: try Artifacts.staticProbe.get(), toPath: folder.appendingPathComponent("probe").path)
        let name = "localhost/tcpkeep-probe:test"
        let result = try runProcess(["sh", "-c", "tar -C \"$0\" -c . | podman import - \"$1\"", folder.path, name])
        guard result.status == 0 else { throw Artifacts.CompileFailed(result: result) }
        return name
    }

    static func name() throws -> String { try built.get() }
}
