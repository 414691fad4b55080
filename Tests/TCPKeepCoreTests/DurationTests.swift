import TCPKeepCore
import Testing

@Suite("Durations")
struct DurationTests {
    @Test("seconds: bare numbers, units and sums", arguments: [
        ("90", 90), ("90s", 90), ("5m", 300), ("2h", 7200), ("1m30s", 90), ("1h30m", 5400),
        ("1d", 86400), ("2000ms", 2), ("0", 0),
    ])
    func seconds(text: String, expected: Int) throws {
        #expect(try parseDuration(text, in: .seconds) == expected)
    }

    @Test("milliseconds: a bare number is seconds, ms is exact", arguments: [
        ("1500ms", 1500), ("30", 30_000), ("30s", 30_000), ("1m500ms", 60_500), ("0", 0),
    ])
    func milliseconds(text: String, expected: Int) throws {
        #expect(try parseDuration(text, in: .milliseconds) == expected)
    }

    @Test("malformed text is refused: signs, spaces, unknown units, a unit repeated or out of order", arguments: [
        "", "s", "m5", "5x", "1.5s", "-5", "+5", " 5", "5 ", "5s5", "1500ms", "1h1h", "1m1h", "30s1m", "1s1ms1ms",
    ])
    func malformed(text: String) {
        #expect(throws: ValueError.malformed) { try parseDuration(text, in: .seconds) }
    }

    @Test("a well-formed duration too large to hold is too large, not malformed", arguments: [
        "99999999999999999999", "9999999999999999d", "99999999999999999999s",
    ])
    func tooLarge(text: String) {
        #expect(throws: ValueError.tooLarge) { try parseDuration(text, in: .seconds) }
        #expect(throws: SettingsError("out of range; expected 1s to 32767s (9h6m7s)")) { try KeepaliveOption.idle.parse(text) }
    }

    @Test("milliseconds are written as the flags take them", arguments: [
        (45_000, "45s"), (1500, "1500ms"), (90_000, "1m30s"), (0, "0s"),
    ])
    func formatMilliseconds(milliseconds: Int, expected: String) {
        #expect(TCPKeepCore.formatMilliseconds(milliseconds) == expected)
    }

    @Test("formatting picks the largest units", arguments: [
        (32767, "9h6m7s"), (90, "1m30s"), (120, "2m"), (7200, "2h"), (86_401, "1d1s"), (0, "0s"),
    ])
    func format(seconds: Int, expected: String) {
        #expect(formatDuration(seconds: seconds) == expected)
    }
}
