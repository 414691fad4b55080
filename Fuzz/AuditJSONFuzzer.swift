// libFuzzer entry point for the text other processes give the audit: any bytes as a process
// name, an executable path and a unit (split at the first two NUL bytes) must come out of the
// JSON writer as JSON a strict parser takes, holding the same strings; out of the table as
// one heading line with no control character; out of Prometheus as one line per series.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAuditJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
    let name = ForeignText(bytes: parts[0])
    let executable = parts.count > 1 ? ForeignText(bytes: parts[1]) : nil
    let unit = parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : nil
    let connection = AuditedConnection(
        record: SocketRecord(
            local: Endpoint(address: [127, 0, 0, 1], port: 7000)!, remote: Endpoint(address: [127, 0, 0, 1], port: 7001)!,
            state: .established, sendQueue: 0, receiveQueue: 0, timer: .none, timerTicks: 0, retransmits: 0, uid: 0, probes: 0, inode: 1),
        owner: SocketOwner(pid: 1, process: name, executable: executable, unit: unit), options: nil, status: .missing)

    let json = written(.json, connection)
    var parser = StrictJSON(Array(json.utf8))
    guard let document = parser.document(), case .object(let top) = document,
        case .array(let connections)? = top["connections"], case .object(let fields)? = connections.first
    else { fatalError("not JSON: \(Array(json.utf8))") }
    guard fields["process"] == .string(name.string), fields["executable"] == (executable.map { .string($0.string) } ?? .null),
        fields["unit"] == (unit.map { .string($0) } ?? .null)
    else { fatalError("the strings did not read back: \(Array(json.utf8))") }
    guard !json.unicodeScalars.contains(where: { $0 != "\n" && isTerminalControl($0) }) else { fatalError("raw control character in JSON") }

    let table = written(.table, connection).split(separator: "\n", omittingEmptySubsequences: false)
    // Heading, column titles, one row, a blank line, the summary, and the final line feed's end.
    guard table.count == 6, !table.joined().unicodeScalars.contains(where: isTerminalControl) else {
        fatalError("the table gained a line or a control character: \(table)")
    }
    let prometheus = written(.prometheus, connection).split(separator: "\n")
    guard prometheus.allSatisfy({ $0.hasPrefix("#") || $0.hasPrefix("tcpkeep_") }),
        !prometheus.joined().unicodeScalars.contains(where: isTerminalControl)
    else { fatalError("Prometheus gained a line or a control character: \(prometheus)") }
    return 0
}

private func written(_ format: AuditFormat, _ connection: AuditedConnection) -> String {
    var writer = format.makeWriter()
    var text = ""
    var summary = AuditSummary()
    summary.add(connection.status)
    writer.add(connection, to: &text)
    writer.finish(summary, to: &text)
    return text
}

private func isTerminalControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
}

/// A JSON value as RFC 8259 defines it; numbers are kept as their text.
private enum JSONValue: Equatable {
    case object([String: JSONValue]), array([JSONValue]), string(String), number(String), bool(Bool), null
}

/// A strict RFC 8259 parser: no trailing commas, no raw control characters in strings, no
/// lone surrogates, no leading zeros, nothing after the value.
private struct StrictJSON {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> JSONValue? {
        guard let value = value() else { return nil }
        skipSpace()
        return index == bytes.count ? value : nil
    }

    private var next: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = next, [0x20, 0x09, 0x0a, 0x0d].contains(byte) { index += 1 }
    }

    private mutating func take(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
        index += expected.count
        return true
    }

    private mutating func value() -> JSONValue? {
        skipSpace()
        switch next {
        case UInt8(ascii: "{"):
            index += 1
            var members: [String: JSONValue] = [:]
            skipSpace()
            if take("}") { return .object(members) }
            repeat {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard take(":"), let member = value(), members[key] == nil else { return nil }
                members[key] = member
                skipSpace()
            } while take(",")
            return take("}") ? .object(members) : nil
        case UInt8(ascii: "["):
            index += 1
            var elements: [JSONValue] = []
            skipSpace()
            if take("]") { return .array(elements) }
            repeat {
                guard let element = value() else { return nil }
                elements.append(element)
                skipSpace()
            } while take(",")
            return take("]") ? .array(elements) : nil
        case UInt8(ascii: "\""): return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return take("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return take("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return take("null") ? .null : nil
        default: return number()
        }
    }

    private mutating func digits() -> Int {
        let start = index
        while let byte = next, (0x30...0x39).contains(byte) { index += 1 }
        return index - start
    }

    private mutating func number() -> JSONValue? {
        let start = index
        _ = take("-")
        if take("0") {
            if let byte = next, (0x30...0x39).contains(byte) { return nil }
        } else if digits() == 0 {
            return nil
        }
        if take("."), digits() == 0 { return nil }
        if take("e") || take("E") {
            if !take("+") { _ = take("-") }
            if digits() == 0 { return nil }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private mutating func hexQuad() -> UInt32? {
        guard bytes.count - index >= 4, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else { return nil }
        index += 4
        return value
    }

    private mutating func string() -> String? {
        guard take("\"") else { return nil }
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() -> Bool {
            // Raw bytes must be valid UTF-8 on their own.
            let text = String(decoding: raw, as: UTF8.self)
            guard Array(text.utf8) == raw else { return false }
            scalars.append(contentsOf: text.unicodeScalars)
            raw = []
            return true
        }
        while let byte = next {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return flushRaw() ? String(scalars) : nil
            case 0..<0x20:
                return nil
            case UInt8(ascii: "\\"):
                guard flushRaw(), let escape = next else { return nil }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{c}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    guard var value = hexQuad() else { return nil }
                    if (0xd800...0xdbff).contains(value) {
                        guard take("\\u"), let low = hexQuad(), (0xdc00...0xdfff).contains(low) else { return nil }
                        value = 0x10000 + (value - 0xd800) << 10 + (low - 0xdc00)
                    }
                    guard let scalar = Unicode.Scalar(value) else { return nil }
                    scalars.append(scalar)
                default: return nil
                }
            default:
                raw.append(byte)
            }
        }
        return nil
    }
}
