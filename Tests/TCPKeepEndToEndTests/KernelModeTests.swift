import Foundation
import Testing

/// `tcpkeep kernel` on the real kernel: test cgroups under the cgroup v2 mount, programs moved
/// into them, their sockets read back with getsockopt, and the kernel's own view (bpftool).
@Suite("Kernel mode", .serialized)
struct KernelModeTests {
    static let values = ["--idle", "30", "--interval", "5", "--count", "3", "--user-timeout", "10s"]
    static let configured = ["keepalive": "1", "idle": "30", "interval": "5", "count": "3", "user_timeout": "10000"]

    /// The cgroup v2 mount: its root is the root cgroup.
    static func cgroupMount() throws -> String {
        let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
        let entries: [[Substring]] = mounts.split(separator: "\n").map { $0.split(separator: " ") }
        let entry = try #require(entries.first { $0.count > 2 && $0[2] == "cgroup2" }, "no cgroup v2 mount")
        return String(entry[1])
    }

    /// A cgroup of the test's own, removed with the programs moved out when done.
    final class TestCgroup {
        let path: String
        let relative: String

        init(_ name: String) throws {
            try requireRoot()
            let mount = try KernelModeTests.cgroupMount()
            relative = "tcpkeep-test-\(name)-\(getpid())"
            path = "\(mount)/\(relative)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }

        /// `program` started inside the cgroup: a shell moves itself in, then becomes it.
        func command(_ program: [String]) -> [String] {
            ["sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", path] + program
        }

        func remove() {
            _ = try? runProcess([Artifacts.tcpkeep, "kernel", "detach", "--cgroup", path])
            rmdir(path)
        }
    }

    func tcpkeep(_ arguments: [String]) throws -> ProcessResult {
        try runProcess([Artifacts.tcpkeep] + arguments)
    }

    /// The options a client's connection got: it connects to a server outside every test cgroup.
    func connect(_ client: (String) -> [String]) throws -> [String: String] {
        let server = try RunningProgram([try Artifacts.staticProbe.get(), "serve"], readyLine: "port ")
        defer { server.stop() }
        let port = try #require(server.lines.first { $0.hasPrefix("port ") }).dropFirst("port ".count)
        let result = try runProcess(client(String(port)))
        let line = try #require(result.lines.first { $0.hasPrefix("connected") || $0.hasPrefix("connect ") }, "\(result)")
        return fields(of: line)
    }

    @Test("a static and a Go program in the cgroup get keepalive and the values; a process outside is untouched")
    func staticAndGo() throws {
        let cgroup = try TestCgroup("reach")
        defer { cgroup.remove() }
        let attached = try tcpkeep(["kernel", "attach", "--cgroup", cgroup.relative] + Self.values)
        #expect(attached.status == 0, "\(attached)")
        let probe = try Artifacts.staticProbe.get(), go = try Artifacts.goClient.get()
        #expect(try connect { cgroup.command([probe, "connect", $0]) }.filter { Self.configured[$0.key] != nil } == Self.configured)
        // Go's own keepalive off: what the kernel set is what stays.
        let goOptions = try connect { cgroup.command([go, $0, "plain"]) }.filter { Self.configured[$0.key] != nil }
        #expect(goOptions == Self.configured, "\(goOptions)")
        #expect(try connect { [probe, "connect", $0] }["keepalive"] == "0", "a process outside the cgroup got keepalive")
    }

    @Test("changing the values changes the live attachment in place; enforce rewrites a loosening program")
    func liveChangeAndEnforce() throws {
        let cgroup = try TestCgroup("live")
        defer { cgroup.remove() }
        try #require(try tcpkeep(["kernel", "attach", "--cgroup", cgroup.relative] + Self.values).status == 0)
        let before = try #require(try kernelStatusAttachments().first { $0["cgroup"] as? String == cgroup.path })
        let changed = try tcpkeep(["kernel", "attach", "--cgroup", cgroup.path, "--idle", "40", "--interval", "6", "--count", "4", "--enforce"])
        #expect(changed.status == 0, "\(changed)")
        let after = try #require(try kernelStatusAttachments().first { $0["cgroup"] as? String == cgroup.path })
        #expect(after["sockops_program_id"] as? Int == before["sockops_program_id"] as? Int, "the program was replaced, not updated")
        #expect(after["idle_seconds"] as? Int == 40 && after["enforce"] as? Bool == true && after["setsockopt_attached"] as? Bool == true)
        let probe = try Artifacts.staticProbe.get()
        #expect(try connect { cgroup.command([probe, "connect", $0]) }["idle"] == "40")
        // The probe sets idle 600 and SO_KEEPALIVE 0 after connect, a stricter idle 5, and an idle the kernel refuses.
        let server = try RunningProgram([probe, "serve"], readyLine: "port ")
        defer { server.stop() }
        let port = String(try #require(server.lines.first { $0.hasPrefix("port ") }).dropFirst("port ".count))
        let enforced = try runProcess(cgroup.command([probe, "enforce", port]))
        let outcome = Dictionary(enforced.lines.map { (String($0.split(separator: " ")[0]), fields(of: $0)) }, uniquingKeysWith: { a, _ in a })
        #expect(outcome["loosen-idle-600"]?["idle"] == "40", "\(enforced)")
        #expect(outcome["loosen-keepalive-0"]?["keepalive"] == "1", "\(enforced)")
        #expect(outcome["stricter-idle-5"]?["idle"] == "5", "\(enforced)")
        #expect(outcome["range-idle-40000"]?["rc"] == "-1" && outcome["range-idle-40000"]?["errno"] == "EINVAL", "\(enforced)")
    }

    @Test("where the kernel does not take the program that counts timeouts, kernel mode still configures, and status and the audit say that timeouts are not counted")
    func withoutTimeouts() throws {
        let cgroup = try TestCgroup("notimeouts")
        defer { cgroup.remove() }
        // As on a kernel before 5.15, whose verifier refuses the program.
        let attached = try runProcess(
            [Artifacts.tcpkeep, "kernel", "attach", "--cgroup", cgroup.relative] + Self.values, environment: ["TCPKEEP_BPF_WITHOUT_TIMEOUTS": "1"])
        #expect(attached.status == 0, "\(attached)")
        let probe = try Artifacts.staticProbe.get()
        #expect(try connect { cgroup.command([probe, "connect", $0]) }.filter { Self.configured[$0.key] != nil } == Self.configured)
        let entry = try #require(try kernelStatusAttachments().first { $0["cgroup"] as? String == cgroup.path })
        let counters = try #require(entry["counters"] as? [String: Any], "\(entry)")
        #expect(counters["timed_out"] is NSNull && counters["configured_active"] as? Int == 1, "\(counters)")
        let table = try tcpkeep(["kernel", "status"])
        let row = try #require(table.lines.first { $0.contains(cgroup.path) }, "\(table)")
        #expect(row.split(separator: " ").suffix(2).first == "-", "\(row)")
        #expect(table.lines.contains { $0.hasPrefix("TIMED_OUT is - where the kernel did not take the program") }, "\(table)")
        let audit = try tcpkeep(["audit", "--format", "prometheus"])
        let label = "cgroup=\"/\(cgroup.relative)\""
        #expect(audit.lines.contains { $0.hasPrefix("tcpkeep_kernel_connections_kept_total{") && $0.contains(label) }, "\(audit.stdout)")
        #expect(!audit.lines.contains { $0.hasPrefix("tcpkeep_kernel_connections_timed_out_total{") && $0.contains(label) }, "\(audit.stdout)")
    }

    @Test("a pin folder that cannot be read is named in a warning, and status exits 1; the attachment beside it is still listed, and its counters are still in the audit's output")
    func unreadablePins() throws {
        let cgroup = try TestCgroup("unreadable")
        defer { cgroup.remove() }
        let directory = Artifacts.scratch.appendingPathComponent("unreadable-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let audit = directory.appendingPathComponent("audit.prom").path, auditErrors = directory.appendingPathComponent("audit.err").path
        // On a bpffs of this test's own, so that no other test meets the broken folder (an empty
        // one, as an interrupted run of another tool might leave).
        let script = """
            tcpkeep=$0 cgroup=$1 audit=$2 errors=$3; shift 3
            mount -t bpf bpf /sys/fs/bpf && mkdir -p /sys/fs/bpf/tcpkeep/4242 &&
            "$tcpkeep" kernel attach --cgroup "$cgroup" "$@" >/dev/null || exit 3
            "$tcpkeep" kernel status; echo "status exit $?"
            "$tcpkeep" audit --format prometheus >"$audit" 2>"$errors"
            "$tcpkeep" kernel detach --cgroup "$cgroup" >/dev/null
            """
        let result = try runProcess(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, Artifacts.tcpkeep, cgroup.path, audit, auditErrors] + Self.values)
        #expect(result.status == 0, "\(result)")
        #expect(result.lines.contains { $0.contains(cgroup.path) } && result.lines.last == "status exit 1", "\(result)")
        #expect(result.stderr.hasPrefix("tcpkeep: warning: cannot read the pins in /sys/fs/bpf/tcpkeep/4242: ")
            && result.stderr.split(separator: "\n").count == 1, "\(result)")
        let metrics = try String(contentsOfFile: audit, encoding: .utf8), errors = try String(contentsOfFile: auditErrors, encoding: .utf8)
        #expect(metrics.contains("tcpkeep_kernel_connections_configured_total{cgroup=\"/\(cgroup.relative)\""), "\(metrics)")
        #expect(errors.contains("kernel mode's counters left out: cannot read the pins in /sys/fs/bpf/tcpkeep/4242"), "\(errors)")
    }

    /// What `bpftool cgroup show` lists for the root cgroup: no refusal may attach anything there.
    func rootCgroupPrograms() throws -> String {
        try runProcess(["bpftool", "cgroup", "show", try Self.cgroupMount()]).stdout
    }

    /// The pin folders under /sys/fs/bpf/tcpkeep other than `own`: other attachments' (another
    /// test run's, or the host's), which keep the folder.
    func otherPinFolders(than own: String) -> [String] {
        let root = "/sys/fs/bpf/tcpkeep"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let units = (try? FileManager.default.contentsOfDirectory(atPath: root + "/unit")) ?? []
        return (names.filter { $0 != "unit" }.map { "\(root)/\($0)" } + units.map { "\(root)/unit/\($0)" }).filter { $0 != own }
    }

    @Test("detach leaves no tcpkeep program attached or pinned, as the kernel itself reports, nor an empty pin folder")
    func detach() throws {
        try requireProgram("bpftool")
        let cgroup = try TestCgroup("detach")
        defer { cgroup.remove() }
        try #require(try tcpkeep(["kernel", "attach", "--cgroup", cgroup.relative, "--enforce"] + Self.values).status == 0)
        let shown = try runProcess(["bpftool", "cgroup", "show", cgroup.path])
        #expect(shown.stdout.contains("tcpkeep_sockops") && shown.stdout.contains("tcpkeep_setopt"), "\(shown)")
        let pins = try #require(try kernelStatusAttachments().first { $0["cgroup"] as? String == cgroup.path }?["pin_directory"] as? String)
        let others = otherPinFolders(than: pins)
        let detached = try tcpkeep(["kernel", "detach", "--cgroup", cgroup.relative])
        #expect(detached.status == 0 && detached.stdout.contains("detached"), "\(detached)")
        let after = try runProcess(["bpftool", "cgroup", "show", cgroup.path])
        #expect(!after.stdout.contains("tcpkeep"), "\(after)")
        #expect(!FileManager.default.fileExists(atPath: pins))
        #expect(try kernelStatusAttachments().allSatisfy { $0["cgroup"] as? String != cgroup.path })
        // The folder goes with the last attachment; another's keeps it.
        if others.isEmpty {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/bpf/tcpkeep"), "detach left an empty /sys/fs/bpf/tcpkeep")
        }
    }

    @Test("--pid of a process in the root cgroup refuses, naming --all, and attaches nothing to the root cgroup")
    func pidInTheRootCgroup() throws {
        try requireRoot()
        try requireProgram("bpftool")
        let mount = try Self.cgroupMount()
        let sleeper = try RunningProgram(["sh", "-c", "echo ready; exec sleep 60"])
        defer { sleeper.stop() }
        // Into the root cgroup, where every process of a host without systemd is.
        try "\(sleeper.pid)\n".write(toFile: "\(mount)/cgroup.procs", atomically: false, encoding: .utf8)
        let before = try kernelStatusAttachments().count
        for command in ["attach", "detach"] {
            let result = try tcpkeep(["kernel", command, "--pid", "\(sleeper.pid)"] + (command == "attach" ? Self.values : []))
            #expect(result.status == 2 && result.stderr.contains("root cgroup") && result.stderr.contains("--all"), "\(command): \(result)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        }
        #expect(!(try rootCgroupPrograms()).contains("tcpkeep"), "a refusal attached to the root cgroup")
        #expect(try kernelStatusAttachments().count == before, "a refusal left something pinned")
    }

    @Test("refusals: one line, exit 2, nothing loaded, pinned or attached")
    func refusals() throws {
        try requireProgram("setpriv")
        let cgroup = try TestCgroup("refuse")
        defer { cgroup.remove() }
        let before = try kernelStatusAttachments().count
        let mount = try Self.cgroupMount()
        // An absolute path outside the cgroup v2 mount (a cgroup v1 hierarchy on a hybrid host) is
        // refused as such, not joined under the mount.
        let outside = ["/tmp"] + (mount == "/sys/fs/cgroup" ? [] : ["/sys/fs/cgroup/memory"])
        let cases: [([String], [String], String)] = [
            ([], ["--cgroup", "tcpkeep-no-such-cgroup"], "does not exist"),
            ([], ["--cgroup", cgroup.relative, "--pid", "1"], "name one target"),
            (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], ["--cgroup", cgroup.path], "CAP_BPF"),
        ] + outside.map { ([], ["--cgroup", $0], "--cgroup \($0): not a cgroup v2 cgroup") }
        for (prefix, target, message) in cases {
            let result = try runProcess(prefix + [Artifacts.tcpkeep, "kernel", "attach"] + target + Self.values)
            #expect(result.status == 2 && result.stderr.contains(message), "\(target): \(result)")
            #expect(!result.stderr.contains(mount + "/sys/") && !result.stderr.contains(mount + "/tmp"), "a path joined under the mount: \(result)")
            #expect(result.stderr.split(separator: "\n").count <= 4, "\(result)")
        }
        #expect(!(try rootCgroupPrograms()).contains("tcpkeep"), "a refusal attached to the root cgroup")
        let noProcess = try tcpkeep(["kernel", "detach", "--pid", "2147483647"])
        #expect(noProcess.status == 2 && noProcess.stderr.contains("--pid 2147483647: no such process"), "\(noProcess)")
        #expect(try kernelStatusAttachments().count == before, "a refusal left something pinned")
        let shown = try runProcess(["bpftool", "cgroup", "show", cgroup.path])
        #expect(!shown.stdout.contains("tcpkeep"), "\(shown)")
    }

    @Test("a frozen, statically linked client in the cgroup is freed within idle + interval x count + 2 s")
    func frozenStaticClient() throws {
        let cgroup = try TestCgroup("frozen")
        defer { cgroup.remove() }
        try #require(try tcpkeep(["kernel", "attach", "--cgroup", cgroup.relative] + FrozenClientTests.keepalive).status == 0)
        let server = try NetworkNamespace("kfs"), clientHost = try NetworkNamespace("kfc")
        defer {
            server.delete()
            clientHost.delete()
        }
        try server.link(to: clientHost, address: FrozenClientTests.serverAddress, otherAddress: FrozenClientTests.clientAddress, tag: "kf")
        let peer = try Artifacts.staticPeer.get()
        let listener = try RunningProgram(server.command([peer, "serve", FrozenClientTests.serverAddress, FrozenClientTests.port]))
        defer { listener.stop() }
        // Into the cgroup first: ip netns exec mounts a /sys of its own, without the cgroup tree.
        let client = try RunningProgram(
            cgroup.command(clientHost.command([peer, "ask", FrozenClientTests.serverAddress, FrozenClientTests.port])), readyLine: "connected")
        defer { client.stop() }
        client.send("go")
        try client.waitForLine(containing: "sent", timeout: 10)
        Thread.sleep(forTimeInterval: 0.3)
        try server.dropEverything()
        try clientHost.dropEverything()
        try client.waitForLine(containing: "result", timeout: 3 * FrozenClientTests.bound)
        let values = fields(of: try #require(client.lines.first { $0.hasPrefix("result ") }))
        #expect(Int32(values["errno"]!) == ETIMEDOUT)
        #expect(Double(values["elapsed_ms"]!)! / 1000 <= FrozenClientTests.bound, "\(values)")
    }

    @Test("doctor --pid: kernel mode covering the process's cgroup reaches even a static program, with its values")
    func doctorSeesKernelMode() throws {
        let cgroup = try TestCgroup("doctor")
        defer { cgroup.remove() }
        let peer = try Artifacts.staticPeer.get()
        let program = try RunningProgram(cgroup.command([peer, "serve", "127.0.0.1", "0"]))
        defer { program.stop() }
        let before = try tcpkeep(["doctor", "--pid", "\(program.pid)"])
        #expect(before.status == 1 && before.stdout.contains("tcpkeep kernel attach --pid \(program.pid)"), "\(before)")
        try #require(try tcpkeep(["kernel", "attach", "--cgroup", cgroup.relative] + Self.values).status == 0)
        let after = try tcpkeep(["doctor", "--pid", "\(program.pid)", "--format", "json"])
        #expect(after.status == 0, "\(after)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        let kernel = try #require(object["kernel"] as? [String: Any], "\(after)")
        #expect(object["reachable"] as? Bool == true && kernel["cgroup"] as? String == cgroup.path && kernel["idle_seconds"] as? Int == 30)
    }

    @Test("kernel pin makes a unit's pins from the shim's variables, for systemd to attach; detach --unit removes them")
    func pinForAUnit() throws {
        try requireRoot()
        let unit = "tcpkeep-test-\(getpid()).service"
        let pins = "/sys/fs/bpf/tcpkeep/unit/tcpkeep-test-\(getpid())_2eservice"
        let pinned = try runProcess(
            [Artifacts.tcpkeep, "kernel", "pin", "--unit", unit],
            environment: ["KEEPIDLE": "30", "KEEPINTVL": "5", "KEEPCNT": "3", "TCPKEEP_ENFORCE": "1"])
        #expect(pinned.status == 0, "\(pinned)")
        let attachment = try #require(try kernelStatusAttachments().first { $0["pin_directory"] as? String == pins })
        #expect(attachment["cgroup"] is NSNull && attachment["idle_seconds"] as? Int == 30 && attachment["enforce"] as? Bool == true)
        for program in ["sock_ops", "setsockopt", "values", "counters"] {
            #expect(FileManager.default.fileExists(atPath: "\(pins)/\(program)"))
        }
        let removed = try tcpkeep(["kernel", "detach", "--unit", unit])
        #expect(removed.status == 0 && removed.stdout.contains("removed the pins of \(unit)"), "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: pins))
        if otherPinFolders(than: pins).isEmpty {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/bpf/tcpkeep"), "detach --unit left an empty /sys/fs/bpf/tcpkeep")
        }
        let bad = try runProcess([Artifacts.tcpkeep, "kernel", "pin", "--unit", unit], environment: ["KEEPIDLE": "1m"])
        #expect(bad.status == 2 && bad.stderr.contains("KEEPIDLE='1m' in the environment is invalid"), "\(bad)")
    }
}

/// The attachments `tcpkeep kernel status --format json` lists; it must exit 0.
func kernelStatusAttachments() throws -> [[String: Any]] {
    let result = try runProcess([Artifacts.tcpkeep, "kernel", "status", "--format", "json"])
    try #require(result.status == 0, "\(result)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    return try #require(object?["attachments"] as? [[String: Any]], "\(result)")
}
