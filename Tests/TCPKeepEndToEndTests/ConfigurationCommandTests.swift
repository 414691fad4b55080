import Foundation
import Testing

/// `tcpkeep systemd` and `tcpkeep sysctl` as the built binary, always under --root.
@Suite("tcpkeep systemd and sysctl")
struct ConfigurationCommandTests {
    let tcpkeep = Artifacts.tcpkeep
    static let library = "/usr/local/lib/tcpkeep/libtcpkeep.so"
    static let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

    /// A root with a unit like Debian's redis-server, which preloads jemalloc itself.
    func makeRoot() throws -> URL {
        let root = Artifacts.scratch.appendingPathComponent("root-\(UUID().uuidString)")
        let units = root.appendingPathComponent("lib/systemd/system")
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        try """
            [Unit]
            Description=A redis-like service

            [Service]
            ExecStart=/bin/sleep infinity
            Environment="LD_PRELOAD=\(Self.jemalloc)" OTHER=kept

            [Install]
            WantedBy=multi-user.target

            """.write(to: units.appendingPathComponent("redis-like.service"), atomically: true, encoding: .utf8)
        try """
            [Socket]
            ListenStream=127.0.0.1:6390

            [Install]
            WantedBy=sockets.target

            """.write(to: units.appendingPathComponent("redis-like.socket"), atomically: true, encoding: .utf8)
        return root
    }

    func dropIn(_ root: URL, _ unit: String) -> URL {
        root.appendingPathComponent("etc/systemd/system/\(unit).d/50-tcpkeep.conf")
    }

    /// Every file under `root`, with its bytes.
    func snapshot(_ root: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: root.path) ?? FileManager.DirectoryEnumerator() {
            let url = root.appendingPathComponent(path)
            if let data = FileManager.default.contents(atPath: url.path), !url.hasDirectoryPath { files[path] = data }
        }
        return files
    }

    /// systemd-analyze verify on the unit with the drop-in beside it, as systemd would load them:
    /// nothing on stderr, and the merged environment from the debug log.
    func verify(_ root: URL, unit: String) throws -> [String] {
        try requireProgram("systemd-analyze")
        let check = Artifacts.scratch.appendingPathComponent("verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: check, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: check) }
        // A socket unit needs its service beside it, so every unit of the root goes there.
        let units = root.appendingPathComponent("lib/systemd/system")
        for name in try FileManager.default.contentsOfDirectory(atPath: units.path) {
            try FileManager.default.copyItem(at: units.appendingPathComponent(name), to: check.appendingPathComponent(name))
        }
        let service = check.appendingPathComponent(unit)
        try FileManager.default.copyItem(at: dropIn(root, unit).deletingLastPathComponent(), to: check.appendingPathComponent("\(unit).d"))
        let quiet = try runProcess(["systemd-analyze", "verify", service.path])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "systemd-analyze verify complained: \(quiet)")
        let debug = try runProcess(["systemd-analyze", "verify", service.path], environment: ["SYSTEMD_LOG_LEVEL": "debug"])
        let prefix = "Environment: "
        return (debug.stdout + debug.stderr).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix(prefix) }
            .map { String($0.dropFirst(prefix.count)) }
    }

    @Test("the service drop-in keeps the unit's own LD_PRELOAD and passes systemd-analyze verify")
    func serviceDropIn() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try runProcess([
            tcpkeep, "systemd", "redis-like", "--profile", "datacenter", "--log", "debug", "--write", "--root", root.path,
            "--library", Self.library,
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("It applies when the system under \(root.path) next starts redis-like.service."), "\(result)")
        let content = try String(contentsOf: dropIn(root, "redis-like.service"), encoding: .utf8)
        #expect(content.hasPrefix("# Written by tcpkeep."))
        let environment = try verify(root, unit: "redis-like.service")
        #expect(environment == [
            "LD_PRELOAD=\(Self.library):\(Self.jemalloc)", "OTHER=kept", "KEEPIDLE=30", "KEEPINTVL=5", "KEEPCNT=3",
            "TCPKEEP_USER_TIMEOUT=45000", "TCPKEEP_LOG=debug",
        ])
    }

    @Test("--kernel: a drop-in with BPFProgram= and the pin service's, both verified; --remove deletes both")
    func kernelDropIns() throws {
        try requireProgram("systemd-analyze")
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let arguments = [tcpkeep, "systemd", "redis-like", "--kernel", "--profile", "datacenter", "--enforce", "--write", "--root", root.path]
        // Without the loader unit nothing would pin the programs: refused, nothing written.
        let before = try snapshot(root)
        let refused = try runProcess(arguments)
        #expect(refused.status == 2 && refused.stdout.isEmpty, "\(refused)")
        #expect(refused.stderr.hasPrefix("tcpkeep: systemd cannot find tcpkeep-kernel@.service (looked in \(root.path)/etc/systemd/system, "), "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused)")
        #expect(try snapshot(root) == before)

        // The loader unit where the package puts it, running the built tcpkeep.
        let template = try String(contentsOfFile: Artifacts.source("systemd/tcpkeep-kernel@.service"), encoding: .utf8)
        let installed = root.appendingPathComponent("usr/lib/systemd/system/tcpkeep-kernel@.service")
        try FileManager.default.createDirectory(at: installed.deletingLastPathComponent(), withIntermediateDirectories: true)
        try template.replacingOccurrences(of: "/usr/local/bin/tcpkeep", with: tcpkeep).write(to: installed, atomically: true, encoding: .utf8)
        let result = try runProcess(arguments)
        #expect(result.status == 0, "\(result)")
        let unitDropIn = try String(contentsOf: dropIn(root, "redis-like.service"), encoding: .utf8)
        let pins = "/sys/fs/bpf/tcpkeep/unit/redis-like_2eservice"
        #expect(unitDropIn.contains("\nWants=tcpkeep-kernel@redis-like.service.service\nAfter=tcpkeep-kernel@redis-like.service.service\n"))
        #expect(unitDropIn.contains("\nBPFProgram=sock_ops:\(pins)/sock_ops\nBPFProgram=setsockopt:\(pins)/setsockopt\n"))
        let pinDropIn = try String(contentsOf: dropIn(root, "tcpkeep-kernel@redis-like.service.service"), encoding: .utf8)
        #expect(pinDropIn.contains("Environment=KEEPIDLE=30\nEnvironment=KEEPINTVL=5\nEnvironment=KEEPCNT=3\nEnvironment=TCPKEEP_USER_TIMEOUT=45000\nEnvironment=TCPKEEP_ENFORCE=1\n"))

        // The unit, the pin service's template and both drop-ins, as systemd would load them.
        let check = Artifacts.scratch.appendingPathComponent("kernel-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: check, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: check) }
        for name in ["redis-like.service", "redis-like.socket"] {
            try FileManager.default.copyItem(at: root.appendingPathComponent("lib/systemd/system/\(name)"), to: check.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: installed, to: check.appendingPathComponent("tcpkeep-kernel@.service"))
        for unit in ["redis-like.service", "tcpkeep-kernel@redis-like.service.service"] {
            try FileManager.default.copyItem(at: dropIn(root, unit).deletingLastPathComponent(), to: check.appendingPathComponent("\(unit).d"))
        }
        let verified = try runProcess([
            "systemd-analyze", "verify", check.appendingPathComponent("redis-like.service").path,
            check.appendingPathComponent("tcpkeep-kernel@redis-like.service.service").path,
        ])
        #expect(verified.status == 0 && verified.stderr.isEmpty, "systemd-analyze verify complained: \(verified)")

        let again = try runProcess(arguments)
        #expect(again.stdout.components(separatedBy: "unchanged: ").count == 3, "\(again)")
        let removed = try runProcess([tcpkeep, "systemd", "redis-like", "--remove", "--root", root.path])
        #expect(removed.status == 0 && removed.stdout.components(separatedBy: "removed ").count == 3, "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/systemd/system/redis-like.service.d").path))
    }

    @Test("a socket unit gets KeepAlive= settings that pass systemd-analyze verify")
    func socketDropIn() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try runProcess([tcpkeep, "systemd", "redis-like.socket", "--profile", "lan", "--write", "--root", root.path])
        #expect(result.status == 0, "\(result)")
        let content = try String(contentsOf: dropIn(root, "redis-like.socket"), encoding: .utf8)
        #expect(content.hasSuffix("[Socket]\nKeepAlive=yes\nKeepAliveTimeSec=7\nKeepAliveIntervalSec=1\nKeepAliveProbes=3\n"))
        _ = try verify(root, unit: "redis-like.socket")
    }

    @Test("a second run writes the same bytes and says nothing changed")
    func idempotent() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let command = [tcpkeep, "systemd", "redis-like", "--idle", "60", "--write", "--root", root.path, "--library", Self.library]
        let first = try runProcess(command)
        let written = try Data(contentsOf: dropIn(root, "redis-like.service"))
        let second = try runProcess(command)
        #expect(first.status == 0 && second.status == 0)
        #expect(second.stdout.hasPrefix("unchanged: "), "\(second)")
        #expect(try Data(contentsOf: dropIn(root, "redis-like.service")) == written)
        // The printed form is the written file.
        let printed = try runProcess(Array(command.filter { $0 != "--write" }))
        #expect(Data(printed.stdout.utf8) == written)
    }

    @Test("a file tcpkeep did not write is neither replaced nor removed")
    func foreignFile() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = dropIn(root, "redis-like.service")
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let foreign = Data("[Service]\nEnvironment=MINE=1\n".utf8)
        try foreign.write(to: path)
        let before = try snapshot(root)
        let write = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--write", "--root", root.path, "--library", Self.library])
        #expect(write.status == 1)
        #expect(write.stderr.contains("was not written by tcpkeep"), "\(write)")
        let remove = try runProcess([tcpkeep, "systemd", "redis-like", "--remove", "--root", root.path])
        #expect(remove.status == 1)
        #expect(try snapshot(root) == before)
    }

    @Test("--remove deletes tcpkeep's drop-in and the directory it leaves empty, nothing else")
    func remove() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = dropIn(root, "redis-like.service")
        let before = try snapshot(root)
        _ = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--write", "--root", root.path, "--library", Self.library])
        let removed = try runProcess([tcpkeep, "systemd", "redis-like", "--remove", "--root", root.path])
        #expect(removed.status == 0 && removed.stdout.hasPrefix("removed "), "\(removed)")
        #expect(try snapshot(root) == before)
        #expect(!FileManager.default.fileExists(atPath: path.deletingLastPathComponent().path))
        // With another drop-in beside it, the directory stays.
        _ = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--write", "--root", root.path, "--library", Self.library])
        let other = path.deletingLastPathComponent().appendingPathComponent("10-mine.conf")
        try Data("[Service]\n".utf8).write(to: other)
        _ = try runProcess([tcpkeep, "systemd", "redis-like", "--remove", "--root", root.path])
        #expect(FileManager.default.fileExists(atPath: other.path))
        #expect(!FileManager.default.fileExists(atPath: path.path))
    }

    @Test("bad unit names and values are refused with exit 2, nothing written", arguments: [
        (["systemd", "", "--idle", "60"], "the unit name is empty"),
        (["systemd", "../x.service", "--idle", "60"], "is a path"),
        (["systemd", "redis.server", "--idle", "60"], "'.server' is not a systemd unit type"),
        (["systemd", "a b", "--idle", "60"], "is not allowed in a unit name"),
        (["systemd", "redis-like", "--count", "128"], "The value '128' is invalid for '--count <n>': out of range; expected 1 to 127"),
        (["systemd", "redis-like", "--profile", "wan"], "The value 'wan' is invalid for '--profile <name>'. Please provide one of 'lan', 'datacenter', 'internet' or 'mobile'."),
        (["systemd", "redis-like", "--detect-within", "1s"], "need at least 2s"),
        (["sysctl", "--idle", "0"], "The value '0' is invalid for '--idle <duration>': out of range"),
        (["sysctl", "--idle", "30", "--user-timeout", "5s"], "Unknown option '--user-timeout'"),
        (["sysctl"], "nothing to write"),
    ])
    func refused(arguments: [String], message: String) throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let before = try snapshot(root)
        let library = arguments[0] == "systemd" ? ["--library", Self.library] : []
        let result = try runProcess([tcpkeep] + arguments + ["--write", "--root", root.path] + library)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        #expect(try snapshot(root) == before)
    }

    /// On the host's own /etc/systemd/system, behind a private mount of an empty directory, so
    /// that the host keeps its files.
    @Test("--reload says it could not when systemd is not running")
    func reloadWithoutSystemd() throws {
        if FileManager.default.fileExists(atPath: "/run/systemd/system") {
            try Test.cancel("systemd runs here; this test is for machines without it")
        }
        try requireRoot()
        try requireProgram("unshare")
        let script = "mount -t tmpfs tcpkeep-test /etc/systemd/system && \"$0\" systemd redis-like --idle 60 --write --reload --library \(Self.library)"
        let result = try runProcess(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, tcpkeep])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.contains("systemctl daemon-reload, then systemctl restart redis-like.service"), "\(result)")
        #expect(result.stderr.contains("could not reload: systemd is not running"), "\(result)")
    }

    @Test("under --root nothing is done to the host, nor advised: --reload and --apply are refused before anything is written")
    func rootLeavesTheHostAlone() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let before = try snapshot(root)
        let reload = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--write", "--reload", "--library", Self.library, "--root", root.path])
        #expect(reload.status == 2 && reload.stderr.contains("--reload acts on the running system"), "\(reload)")
        let apply = try runProcess([tcpkeep, "sysctl", "--idle", "60", "--apply", "--root", root.path])
        #expect(apply.status == 2 && apply.stderr.contains("--apply loads the file into this host's sysctls"), "\(apply)")
        #expect(try snapshot(root) == before)

        let written = try runProcess([tcpkeep, "sysctl", "--idle", "60", "--write", "--root", root.path])
        #expect(written.status == 0 && !written.stdout.contains("sysctl -p"), "\(written)")
        let unit = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--write", "--library", Self.library, "--root", root.path])
        #expect(unit.status == 0 && !unit.stdout.contains("systemctl"), "\(unit)")
    }

    @Test("a symbolic link under --root is followed inside the root, never out of it")
    func symlinksStayInsideTheRoot() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let outside = Artifacts.scratch.appendingPathComponent("outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        let units = root.appendingPathComponent("etc/systemd/system")
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        // An absolute target, and a relative one that climbs past the root.
        try FileManager.default.createSymbolicLink(atPath: units.appendingPathComponent("redis-like.service.d").path, withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("etc/sysctl.d").path,
            withDestinationPath: String(repeating: "../", count: 12) + outside.path.dropFirst())
        for arguments in [["systemd", "redis-like", "--library", Self.library], ["sysctl"]] {
            let result = try runProcess([tcpkeep] + arguments + ["--idle", "60", "--write", "--root", root.path])
            #expect(result.status == 0, "\(result)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty, "tcpkeep wrote outside the root")
        let inside = root.appendingPathComponent(String(outside.path.dropFirst()))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: inside.path)) == ["50-tcpkeep.conf", "60-tcpkeep.conf"])
    }

    @Test("a drop-in naming the build tree's shim warns that the service may not see it")
    func buildTreeShimWarns() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let built = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--root", root.path])
        #expect(built.status == 0 && built.stderr.contains("the copy in a build tree; install tcpkeep first (make install), or pass --library"), "\(built)")
        let temporary = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--library", "/tmp/x/lib/tcpkeep/libtcpkeep.so", "--root", root.path])
        #expect(temporary.stderr.contains("PrivateTmp="), "\(temporary)")
        let installed = try runProcess([tcpkeep, "systemd", "redis-like", "--idle", "60", "--library", Self.library, "--root", root.path])
        #expect(!installed.stderr.contains("install tcpkeep first"), "\(installed)")
    }

    /// In a network namespace of its own, with an empty /etc/sysctl.d mounted over the host's
    /// for it alone: --apply works on the running system, and the host keeps its files.
    @Test("sysctl --apply loads the file in the namespace it runs in, and the host keeps its values")
    func sysctlApply() throws {
        try requireRoot()
        try requireProgram("ip")
        try requireProgram("sysctl")
        try requireProgram("unshare")
        let names = ["tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_keepalive_probes"]
        func hostValues() throws -> [String] {
            try names.map { try String(contentsOfFile: "/proc/sys/net/ipv4/\($0)", encoding: .utf8) }
        }
        let host = try hostValues()
        let namespace = "tcpkeep-test-\(getpid())"
        let added = try runProcess(["ip", "netns", "add", namespace])
        try #require(added.status == 0, "\(added)")
        defer { _ = try? runProcess(["ip", "netns", "delete", namespace]) }
        let hostFiles = try FileManager.default.contentsOfDirectory(atPath: "/etc/sysctl.d")
        let script = """
            mount -t tmpfs tcpkeep-test /etc/sysctl.d && "$0" sysctl --idle 123 --interval 7 --count 5 --apply >&2 \\
              && cat /etc/sysctl.d/60-tcpkeep.conf
            """
        let applied = try runProcess([
            "ip", "netns", "exec", namespace, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, tcpkeep,
        ])
        #expect(applied.status == 0, "\(applied)")
        let read = try runProcess(["ip", "netns", "exec", namespace, "sysctl", "-n"] + names.map { "net.ipv4.\($0)" })
        #expect(read.lines == ["123", "7", "5"], "\(read)")
        #expect(try hostValues() == host)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/etc/sysctl.d") == hostFiles)
        #expect(applied.stdout.hasPrefix("# Written by tcpkeep."), "\(applied)")
        #expect(applied.stdout.contains("they never turn keepalive on"))
    }
}
