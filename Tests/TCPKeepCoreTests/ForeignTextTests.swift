import TCPKeepCore
import Testing

/// What other processes say of themselves adds no line, column or escape to what tcpkeep prints.
@Suite("Text from other processes")
struct ForeignTextTests {
    @Test("control bytes, separators, overrides and invalid UTF-8 are escaped; letters are kept", arguments: [
        ([UInt8]("x\n  fake ok row".utf8), #"x\x0a  fake ok row"#),
        ([0x1b] + [UInt8]("[31mred".utf8), #"\x1b[31mred"#),
        ([0x01, 0x7f, 0x09, 0x0d], #"\x01\x7f\x09\x0d"#),
        ([0xc2, 0x9b] + [UInt8]("2J".utf8), #"\xc2\x9b2J"#),
        ([UInt8]("a\u{2028}b\u{202e}c".utf8), #"a\xe2\x80\xa8b\xe2\x80\xaec"#),
        ([0x66, 0xff, 0xc3, 0x28, 0xe2, 0x82], #"f\xff\xc3(\xe2\x82"#),
        ([0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xc0, 0xaf], #"\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf"#),
        ([UInt8]("café 日本 🙂".utf8), "café 日本 🙂"),
        ([UInt8](#"back\slash"#.utf8), #"back\\slash"#),
    ])
    func escaped(bytes: [UInt8], shown: String) {
        #expect(terminalSafe(bytes) == shown)
        #expect(ForeignText(bytes: bytes).description == shown)
    }

    @Test("with escapingSpaces a space is \\x20, so a name stays one word")
    func spaces() {
        #expect(terminalSafe(Array("a b".utf8), escapingSpaces: true) == #"a\x20b"#)
        #expect(terminalSafe("a b") == "a b")
    }

    @Test("every byte string comes out printable: no control character, no line feed")
    func printable() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...24, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let shown = terminalSafe(bytes)
            #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) || $0 == "\u{FFFD}" }, "\(bytes)")
        }
    }

    static func owner(_ name: [UInt8], executable: [UInt8]) -> SocketOwner {
        SocketOwner(pid: 77, process: ForeignText(bytes: name), executable: ForeignText(bytes: executable), unit: "evil\n unit.service")
    }

    static func written(_ format: AuditFormat, owner: SocketOwner) -> String {
        var writer = format.makeWriter()
        var text = ""
        var summary = AuditSummary()
        for status in [KeepaliveStatus.ok, .missing] {
            summary.add(status)
            writer.add(AuditedConnection(record: ClassificationTests.base, owner: owner, options: nil, status: status), to: &text)
        }
        writer.finish(summary, to: &text)
        return text
    }

    @Test("the table: one heading line for the process, its name one word, nothing raw")
    func table() {
        let owner = Self.owner(Array("x\n  fake ok row".utf8), executable: Array("/tmp/a\nb\u{1b}[2J c/prog".utf8) + [0xff])
        let text = Self.written(.table, owner: owner)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == #"x\x0a\x20\x20fake\x20ok\x20row (pid 77, evil\x0a\x20unit.service) /tmp/a\x0ab\x1b[2J c/prog\xff"#, "\(text)")
        #expect(lines.filter { $0.hasPrefix("  ok ") || $0.hasPrefix("  missing ") }.count == 2)
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" })
    }

    @Test("JSON keeps the name exact, with the characters a terminal acts on as \\u escapes")
    func json() {
        let text = Self.written(.json, owner: Self.owner(Array("x\n\u{1b}\u{9b}".utf8), executable: Array("/a\u{2028}".utf8)))
        #expect(text.contains(#""process": "x\n\u001b\u009b""#), "\(text)")
        #expect(text.contains(#""executable": "/a\u2028""#))
        #expect(text.contains(#""unit": "evil\n unit.service""#))
    }

    @Test("Prometheus: the format's own escapes, and \\xNN text for what it has none for")
    func prometheus() {
        let text = Self.written(.prometheus, owner: Self.owner(Array("x\n\u{1b}\"\\".utf8), executable: []))
        #expect(text.contains(#"process="x\n\\x1b\"\\",unit="evil\n unit.service""#), "\(text)")
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" })
    }
}
