import TCPKeep
import Testing

@Suite("Durations")
struct DurationTests {
    @Test("seconds: bare numbers, units and sums", arguments: [
        ("90", 90), ("90s", 90), ("5m", 300), ("2h", 7200), ("1m30s", 90), ("1h30m", 5400),
        ("1d", 86400), ("2000ms", 2), ("0", 0),
    ])
    func seconds(text: String, expected: Int) {
        #expect(parseDuration(text, in: .seconds) == expected)
    }

    @Test("milliseconds: a bare number is seconds, ms is exact", arguments: [
        ("1500ms", 1500), ("30", 30_000), ("30s", 30_000), ("1m500ms", 60_500), ("0", 0),
    ])
    func milliseconds(text: String, expected: Int) {
        #expect(parseDuration(text, in: .milliseconds) == expected)
    }

    @Test("malformed or overflowing text is refused", arguments: [
        "", "s", "m5", "5x", "1.5s", "-5", "+5", " 5", "5 ", "5s5", "1500ms", "99999999999999999999",
        "9999999999999999d",
    ])
    func refused(text: String) {
        #expect(parseDuration(text, in: .seconds) == nil)
    }

    @Test("formatting picks the largest units", arguments: [
        (32767, "9h6m7s"), (90, "1m30s"), (120, "2m"), (7200, "2h"), (86_401, "1d1s"), (0, "0s"),
    ])
    func format(seconds: Int, expected: String) {
        #expect(formatDuration(seconds: seconds) == expected)
    }
}

@Suite("Settings")
struct SettingsTests {
    @Test("each option parses its own form and range")
    func parsing() throws {
        #expect(try KeepaliveOption.idle.parse("5m") == 300)
        #expect(try KeepaliveOption.interval.parse("32767") == 32767)
        #expect(try KeepaliveOption.count.parse("127") == 127)
        #expect(try KeepaliveOption.userTimeout.parse("1500ms") == 1500)
        #expect(try KeepaliveOption.userTimeout.parse("0") == 0)
    }

    @Test("bad values name the flag, the value and the accepted range", arguments: [
        (KeepaliveOption.idle, "0", "--idle: '0' is out of range; expected 1s to 32767s (9h6m7s)"),
        (.idle, "9h6m8s", "--idle: '9h6m8s' is out of range; expected 1s to 32767s (9h6m7s)"),
        (.idle, "1500ms", "--idle: '1500ms' is not a duration in whole seconds (90, 90s, 5m, 1h30m); expected 1s to 32767s (9h6m7s)"),
        (.count, "128", "--count: '128' is out of range; expected 1 to 127"),
        (.count, "3s", "--count: '3s' is not a whole number; expected 1 to 127"),
        (.userTimeout, "25d", "--user-timeout: '25d' is out of range; expected 0 (the system default) to 2147483647ms"),
        (.userTimeout, "soon", "--user-timeout: 'soon' is not a duration (1500ms, 90s, 5m; a bare number is seconds); expected 0 (the system default) to 2147483647ms"),
    ])
    func refused(option: KeepaliveOption, text: String, message: String) {
        #expect(throws: SettingsError(message)) { try option.parse(text) }
    }

    @Test("the environment carries only what is configured, in a stable order")
    func environment() {
        let settings = KeepaliveSettings(idle: 30, count: 4, userTimeout: 25_000, enforce: true, log: .debug)
        #expect(settings.environment.map { "\($0.name)=\($0.value)" } == [
            "KEEPIDLE=30", "KEEPCNT=4", "TCPKEEP_USER_TIMEOUT=25000", "TCPKEEP_ENFORCE=1", "TCPKEEP_LOG=debug",
        ])
        #expect(KeepaliveSettings().environment.isEmpty)
    }

    @Test("environment values are checked as the shim reads them: digits only, in range")
    func environmentValues() throws {
        try KeepaliveOption.idle.checkEnvironmentValue("30")
        for bad in ["30s", "", "0", "32768", " 30"] {
            #expect(throws: SettingsError.self) { try KeepaliveOption.idle.checkEnvironmentValue(bad) }
        }
        #expect(throws: SettingsError("KEEPCNT='200' in the environment is invalid: the shim takes a whole number of probes from 1 to 127")) {
            try KeepaliveOption.count.checkEnvironmentValue("200")
        }
    }
}

@Suite("Preload and shell text")
struct PreloadTests {
    @Test("the shim goes first and nothing already preloaded is dropped")
    func preloadOrder() {
        let shim = "/usr/lib/tcpkeep/libtcpkeep.so"
        #expect(preloadList(putting: shim, before: nil) == shim)
        #expect(preloadList(putting: shim, before: "") == shim)
        #expect(preloadList(putting: shim, before: "/usr/lib/libjemalloc.so.2") == "\(shim):/usr/lib/libjemalloc.so.2")
        #expect(preloadList(putting: shim, before: "/a.so /b.so:/c.so") == "\(shim):/a.so:/b.so:/c.so")
        #expect(preloadList(putting: shim, before: "/a.so:\(shim)") == "\(shim):/a.so")
    }

    @Test("paths LD_PRELOAD cannot carry are named")
    func preloadPaths() {
        #expect(preloadPathProblem("/usr/lib/tcpkeep/libtcpkeep.so") == nil)
        #expect(preloadPathProblem("libtcpkeep.so") != nil)
        #expect(preloadPathProblem("/opt/my lib/libtcpkeep.so") != nil)
        #expect(preloadPathProblem("/opt/a:b/libtcpkeep.so") != nil)
    }

    @Test("the shim is looked for installed first, then in the build tree")
    func candidates() {
        #expect(shimCandidates(executableDirectory: "/usr/local/bin") == [
            "/usr/local/lib/tcpkeep/libtcpkeep.so", "/usr/local/bin/tcpkeep_TCPKeep.resources/libtcpkeep.so",
        ])
    }

    @Test("shell quoting survives quotes, spaces and dollars", arguments: ["plain", "it's", "a b", "$HOME", "'", ""])
    func quoting(value: String) throws {
        let result = try runProcess(["sh", "-c", "printf %s \(shellQuoted(value))"])
        #expect(result.stdout == value)
    }
}
