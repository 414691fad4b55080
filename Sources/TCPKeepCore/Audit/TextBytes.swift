/// Where an audit is written: any text stream, and UTF-8 bytes without a String in between
/// (standard output and files take these straight into their buffer).
public protocol AuditOutputStream: TextOutputStream {
    mutating func write(utf8 bytes: UnsafeRawBufferPointer)
}

extension String: AuditOutputStream {
    public mutating func write(utf8 bytes: UnsafeRawBufferPointer) {
        append(String(decoding: bytes, as: UTF8.self))
    }
}

/// A line built as UTF-8 bytes. An audit writes tens of thousands of lines of some twenty
/// pieces each; String's bookkeeping on every append was most of the cost of writing them.
struct TextBytes {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(string text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func append(spaces count: Int) {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: count))
    }

    /// A number's decimal digits, written last to first on the stack, then appended at once.
    mutating func append(decimal value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // room for UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            var rest = value
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// `127.0.0.1:7000`, `[::1]:7000`: IPv4 digit by digit, IPv6 through its text.
    mutating func append(_ endpoint: Endpoint) {
        guard let (address, port) = endpoint.ipv4 else { return append(string: endpoint.description) }
        append(ipv4: address)
        bytes.append(UInt8(ascii: ":"))
        append(decimal: UInt64(port))
    }

    /// Dotted decimal.
    mutating func append(ipv4 address: UInt32) {
        for shift: UInt32 in [24, 16, 8, 0] {
            if shift != 24 { bytes.append(UInt8(ascii: ".")) }
            append(decimal: UInt64(UInt8(truncatingIfNeeded: address >> shift)))
        }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    func write(to output: inout some AuditOutputStream) {
        bytes.withUnsafeBytes { output.write(utf8: $0) }
    }
}

/// How many bytes `append(decimal:)` writes.
func decimalWidth(_ value: UInt64) -> Int {
    var width = 1
    var rest = value
    while rest >= 10 {
        rest /= 10
        width += 1
    }
    return width
}

extension Endpoint {
    /// The IPv4 address as a number, and the port; nil for IPv6.
    var ipv4: (address: UInt32, port: UInt16)? {
        isIPv4 ? (UInt32(truncatingIfNeeded: low), port) : nil
    }

    /// How many bytes the endpoint's text takes, counted without writing it for IPv4.
    var textWidth: Int {
        guard let (address, port) = ipv4 else { return description.utf8.count }
        var width = 4 + decimalWidth(UInt64(port)) // three dots and the colon
        for shift: UInt32 in [24, 16, 8, 0] { width += decimalWidth(UInt64(UInt8(truncatingIfNeeded: address >> shift))) }
        return width
    }
}
