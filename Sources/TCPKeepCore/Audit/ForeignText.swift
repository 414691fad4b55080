/// Text another process wrote about itself (its name, its executable's path), kept as the bytes
/// the kernel gave: any bytes, UTF-8 or not. Shown to a person only escaped (`description`), and
/// to a program as valid Unicode (`string`, for JSON and Prometheus).
public struct ForeignText: Hashable, Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) {
        self.bytes = Array(bytes)
    }

    public init(stringLiteral text: String) {
        bytes = Array(text.utf8)
    }

    /// The text as Unicode, each invalid UTF-8 sequence replaced by U+FFFD.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// The text for a terminal or a log line: see `terminalSafe`.
    public var description: String { terminalSafe(bytes) }
}

/// Text that adds no line, no terminal escape and, with `escapingSpaces`, no column to what it
/// is printed in, as `systemctl` shows unit names: each byte of a control character (C0, DEL,
/// C1), of a line or paragraph separator or a bidirectional override, and each byte that is not
/// part of valid UTF-8 becomes `\xNN`; a backslash becomes `\\`, so that the escapes read back
/// unambiguously; with `escapingSpaces` a space becomes `\x20`. Everything else, non-ASCII
/// letters included, is kept.
public func terminalSafe(_ bytes: some Collection<UInt8>, escapingSpaces: Bool = false) -> String {
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count)
    func escape(_ byte: UInt8) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        output += [UInt8(ascii: "\\"), UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 0xf)]]
    }
    var index = bytes.startIndex
    while index != bytes.endIndex {
        let byte = bytes[index]
        guard byte >= 0x80 else {
            switch byte {
            case UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: " ") where escapingSpaces: escape(byte)
            case 0..<0x20, 0x7f: escape(byte)
            default: output.append(byte)
            }
            bytes.formIndex(after: &index)
            continue
        }
        guard let (scalar, end) = decodeUTF8Scalar(bytes, at: index) else {
            escape(byte)
            bytes.formIndex(after: &index)
            continue
        }
        if isUnsafeForDisplay(scalar) {
            bytes[index..<end].forEach(escape)
        } else {
            output += bytes[index..<end]
        }
        index = end
    }
    return String(decoding: output, as: UTF8.self)
}

/// The same for text already decoded.
public func terminalSafe(_ text: String, escapingSpaces: Bool = false) -> String {
    terminalSafe(Array(text.utf8), escapingSpaces: escapingSpaces)
}

/// Characters that move the cursor, start an escape sequence or reorder what follows them on
/// screen: C0 and C1 controls, DEL, the line and paragraph separators, the bidirectional marks,
/// embeddings, overrides and isolates.
func isUnsafeForDisplay(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0..<0x20, 0x7f...0x9f, 0x2028, 0x2029, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069: true
    default: false
    }
}

/// The scalar a well-formed UTF-8 sequence starting at `start` encodes, and the index after it;
/// nil for a byte that starts none (a stray continuation, an overlong form, a surrogate, a value
/// above U+10FFFF, a sequence cut short).
private func decodeUTF8Scalar<Bytes: Collection<UInt8>>(_ bytes: Bytes, at start: Bytes.Index) -> (Unicode.Scalar, Bytes.Index)? {
    let lead = bytes[start]
    let (length, initial, minimum): (Int, UInt32, UInt32) = switch lead {
    case 0xc2...0xdf: (2, UInt32(lead & 0x1f), 0x80)
    case 0xe0...0xef: (3, UInt32(lead & 0x0f), 0x800)
    case 0xf0...0xf4: (4, UInt32(lead & 0x07), 0x10000)
    default: (0, 0, 0)
    }
    guard length > 0 else { return nil }
    var value = initial
    var index = bytes.index(after: start)
    for _ in 1..<length {
        guard index != bytes.endIndex, bytes[index] & 0xc0 == 0x80 else { return nil }
        value = value << 6 | UInt32(bytes[index] & 0x3f)
        bytes.formIndex(after: &index)
    }
    guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
    return (scalar, index)
}

/// `text` with each scalar for which `replacement` has text replaced by that text.
func replacingScalars(in text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        if let replaced = replacement(scalar) { result += replaced } else { result.unicodeScalars.append(scalar) }
    }
    return result
}
