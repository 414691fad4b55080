import TCPKeepCore
import Testing

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

    @Test("bad values say what is wrong and the accepted range", arguments: [
        (KeepaliveOption.idle, "0", "out of range; expected 1s to 32767s (9h6m7s)"),
        (.idle, "9h6m8s", "out of range; expected 1s to 32767s (9h6m7s)"),
        (.idle, "1500ms", "not a duration in whole seconds (90, 90s, 5m, 1h30m); expected 1s to 32767s (9h6m7s)"),
        (.count, "128", "out of range; expected 1 to 127"),
        (.count, "3s", "not a whole number; expected 1 to 127"),
        (.userTimeout, "25d", "out of range; expected 0 (the system default) to 2147483647ms"),
        (.userTimeout, "soon", "not a duration (1500ms, 90s, 5m; a bare number is seconds); expected 0 (the system default) to 2147483647ms"),
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
