import TCPKeepCore
import Testing

@Suite("systemd unit names, unit files and generated files")
struct UnitFileTests {
    @Test("valid names; a bare name is a service", arguments: [
        ("redis-server", "redis-server.service", UnitName.Kind.service),
        ("redis-server.service", "redis-server.service", .service),
        ("app.socket", "app.socket", .socket),
        ("getty@.service", "getty@.service", .service),
        ("getty@tty1.service", "getty@tty1.service", .service),
        ("a:b_c\\x2dd", "a:b_c\\x2dd.service", .service),
    ])
    func valid(text: String, name: String, kind: UnitName.Kind) throws {
        let unit = try UnitName(text)
        #expect(unit.name == name && unit.kind == kind)
    }

    @Test("invalid names are refused with the rule they break", arguments: [
        ("", "the unit name is empty"),
        ("../etc/passwd", "is a path"),
        ("redis.server", "'.server' is not a systemd unit type"),
        ("backup.timer", "tcpkeep configures .service and .socket units, not .timer"),
        ("a b.service", "' ' is not allowed in a unit name"),
        // Found by the fuzzer: U+070F joins the "." of the ".service" added to a bare name.
        ("\u{070F}", "'\u{070F}' is not allowed in a unit name"),
        ("r\u{E9}dis.service", "'\u{E9}' is not allowed in a unit name"),
        ("@x.service", "an @ must follow a non-empty template name"),
        ("a@b@c.service", "an @ must follow a non-empty template name"),
        (String(repeating: "a", count: 250) + ".service", "at most 255 characters"),
    ])
    func invalid(text: String, message: String) {
        #expect {
            try UnitName(text)
        } throws: { error in
            (error as? SettingsError)?.description.contains(message) == true
        }
    }

    @Test("drop-in directories, least specific first, templates and dash prefixes included")
    func dropInDirectories() throws {
        #expect(try UnitName("foo-bar@x.service").dropInDirectoryNames
            == ["service.d", "foo-.service.d", "foo-bar@.service.d", "foo-bar@x.service.d"])
        #expect(try UnitName("app.socket").dropInDirectoryNames == ["socket.d", "app.socket.d"])
    }

    @Test("drop-ins apply by file name; the higher-priority directory masks a same-named file")
    func dropInOrder() {
        let found = [
            DropInCandidate(searchDirectory: 4, dropInDirectory: 1, fileName: "10-a.conf", path: "/lib/10-a.conf"),
            DropInCandidate(searchDirectory: 0, dropInDirectory: 1, fileName: "90-z.conf", path: "/etc/90-z.conf"),
            DropInCandidate(searchDirectory: 0, dropInDirectory: 1, fileName: "10-a.conf", path: "/etc/10-a.conf"),
            DropInCandidate(searchDirectory: 3, dropInDirectory: 0, fileName: "20-b.conf", path: "/usr/20-b.conf"),
            DropInCandidate(searchDirectory: 3, dropInDirectory: 0, fileName: "README", path: "/usr/README"),
        ]
        #expect(orderedDropIns(found).map(\.path) == ["/etc/10-a.conf", "/usr/20-b.conf", "/etc/90-z.conf"])
    }

    @Test("LD_PRELOAD as systemd reads it: quotes, escapes, continuations, later wins, empty resets")
    func existingPreload() {
        let unit = """
            [Unit]
            Environment=LD_PRELOAD=/not/a/service/setting.so
            [Service]
            # Environment=LD_PRELOAD=/commented.so
            Environment="LD_PRELOAD=/usr/lib/libjemalloc.so.2" 'OTHER=a b'
            ExecStart=-/usr/bin/redis-server \\
                /etc/redis/redis.conf
            """
        #expect(environmentPreload(unitFileEntries(unit)) == "/usr/lib/libjemalloc.so.2")
        let later = unit + "\nEnvironment=A=1 LD_PRELOAD=/opt/100%%.so\n"
        #expect(environmentPreload(unitFileEntries(later)) == "/opt/100%.so")
        #expect(environmentPreload(unitFileEntries(unit + "\nEnvironment=\n")) == nil)
        #expect(serviceProgram(unitFileEntries(unit)) == "/usr/bin/redis-server")
        #expect(serviceProgram(unitFileEntries("[Service]\nExecStart=!!@/bin/true true\n")) == "/bin/true")
        #expect(showEnvironmentPreload("A=1 \"LD_PRELOAD=/a.so /b.so\"\n") == "/a.so /b.so")
    }

    @Test("BPFProgram= as systemd reads it: TYPE:PATH in order, an empty one resets, [Service] only")
    func bpfPrograms() {
        let unit = """
            [Unit]
            BPFProgram=sock_ops:/sys/fs/bpf/not-a-unit-setting
            [Service]
            BPFProgram=ingress:/sys/fs/bpf/dropped
            BPFProgram=
            BPFProgram=sock_ops:/sys/fs/bpf/tcpkeep/unit/a_2eservice/sock_ops
            BPFProgram=no-type-here
            BPFProgram=setsockopt:/sys/fs/bpf/a:b
            """
        #expect(bpfProgramSettings(unitFileEntries(unit)).map { "\($0.type) \($0.path)" } == [
            "sock_ops /sys/fs/bpf/tcpkeep/unit/a_2eservice/sock_ops", "setsockopt /sys/fs/bpf/a:b",
        ])
    }

    @Test("Environment= lines read back as the value, whatever it holds", arguments: [
        "/usr/lib/tcpkeep/libtcpkeep.so:/usr/lib/libjemalloc.so.2", "a b", "100%", #"quote " and \ backslash"#, "tab\there",
    ])
    func environmentQuoting(value: String) {
        let line = systemdEnvironmentLine(name: "X", value: value)
        #expect(environmentPreload(unitFileEntries("[Service]\n" + line.replacing("X=", with: "LD_PRELOAD=", maxReplacements: 1))) == value)
    }

    @Test("a file tcpkeep did not write is refused; its own is replaced or left as it is")
    func fileChanges() throws {
        #expect(try plannedChange(path: "/p", existing: nil, new: "x") == .create)
        let ours = generatedFileMarker + " a\n"
        #expect(try plannedChange(path: "/p", existing: ours, new: ours) == .unchanged)
        #expect(try plannedChange(path: "/p", existing: ours, new: ours + "b\n") == .replace)
        #expect(throws: GeneratedFileConflict(path: "/p", action: "replacing")) { try plannedChange(path: "/p", existing: "[Service]\n", new: ours) }
    }

    @Test("the sysctl file holds only the configured values, and refuses none")
    func sysctl() throws {
        let text = try sysctlFile(settings: KeepaliveSettings(idle: 30, count: 3))
        #expect(text.hasPrefix(generatedFileMarker))
        #expect(text.contains("they never turn keepalive on"))
        #expect(text.hasSuffix("net.ipv4.tcp_keepalive_time = 30\nnet.ipv4.tcp_keepalive_probes = 3\n"))
        #expect(throws: SettingsError.self) { try sysctlFile(settings: KeepaliveSettings(userTimeout: 5000)) }
    }

    @Test("a socket unit gets KeepAlive= settings and no LD_PRELOAD")
    func socketDropInContent() throws {
        let text = socketDropIn(unit: try UnitName("app.socket"), settings: KeepaliveProfile.lan.settings)
        #expect(text.hasSuffix("[Socket]\nKeepAlive=yes\nKeepAliveTimeSec=7\nKeepAliveIntervalSec=1\nKeepAliveProbes=3\n"))
        #expect(!text.contains("LD_PRELOAD="))
    }
}
