/// One row of /proc/net/tcp or /proc/net/tcp6: a TCP socket as the kernel reports it.
public struct SocketRecord: Equatable, Sendable {
    public var local: Endpoint
    public var remote: Endpoint
    public var state: TCPState
    public var sendQueue: UInt32
    public var receiveQueue: UInt32
    /// The one pending timer the kernel shows (1 beats 4 beats 2 when several are).
    public var timer: SocketTimer
    /// Time until that timer fires, in USER_HZ ticks (1/100 s).
    public var timerTicks: UInt64
    public var retransmits: UInt32
    public var uid: UInt32
    /// Unanswered keepalive (or zero-window) probes.
    public var probes: UInt32
    /// The socket's inode: 0 when no file refers to it (TIME_WAIT, orphaned).
    public var inode: UInt64

    public var timerSeconds: Double { Double(timerTicks) / 100 }
}

public enum SocketTimer: Equatable, Sendable {
    case none, retransmit, keepalive, timeWait, zeroWindowProbe
    case other(UInt8)

    init(code: UInt8) {
        switch code {
        case 0: self = .none
        case 1: self = .retransmit
        case 2: self = .keepalive
        case 3: self = .timeWait
        case 4: self = .zeroWindowProbe
        default: self = .other(code)
        }
    }

    public var name: String {
        switch self {
        case .none: "none"
        case .retransmit: "retransmit"
        case .keepalive: "keepalive"
        case .timeWait: "time-wait"
        case .zeroWindowProbe: "zero-window-probe"
        case .other(let code): "timer-\(code)"
        }
    }
}

/// include/net/tcp_states.h
public enum TCPState: UInt8, CaseIterable, Sendable {
    case established = 1, synSent, synReceived, finWait1, finWait2, timeWait, close, closeWait, lastAck, listen, closing, newSynReceived

    public var name: String {
        switch self {
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synReceived: "SYN_RECV"
        case .finWait1: "FIN_WAIT1"
        case .finWait2: "FIN_WAIT2"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .closing: "CLOSING"
        case .newSynReceived: "NEW_SYN_RECV"
        }
    }
}

/// An IPv4 or IPv6 address and a port. An IPv4-mapped IPv6 address is kept as IPv4.
public struct Endpoint: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let address: [UInt8]
    public let port: UInt16

    public init(address: [UInt8], port: UInt16) {
        let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
        self.address = address.count == 16 && Array(address.prefix(12)) == mappedPrefix ? Array(address.suffix(4)) : address
        self.port = port
    }

    public var isIPv4: Bool { address.count == 4 }

    /// `127.0.0.1:7000`, `[::1]:7000`
    public var description: String {
        isIPv4 ? "\(formatAddress):\(port)" : "[\(formatAddress)]:\(port)"
    }

    /// The address alone, IPv6 in the shortest form (RFC 5952).
    public var formatAddress: String {
        if isIPv4 { return address.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]) }
        // The longest run of two or more zero groups, the first such when tied, becomes "::".
        var best: Range<Int>? = nil
        var start: Int? = nil
        for index in 0...groups.count {
            if index < groups.count && groups[index] == 0 {
                if start == nil { start = index }
            } else if let runStart = start {
                if index - runStart >= 2 && index - runStart > (best?.count ?? 0) { best = runStart..<index }
                start = nil
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let best else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }
}

/// A line of a /proc/net/tcp file that does not have the kernel's format.
public struct ProcParseError: Error, Equatable, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let reason: String
    public let text: String

    public init(file: String, line: Int, reason: String, text: String) {
        self.file = file
        self.line = line
        self.reason = reason
        self.text = text
    }

    public var description: String {
        "\(file) line \(line): \(reason): '\(text.count > 160 ? text.prefix(160) + "..." : Substring(text))'"
    }
}

/// Parses the text of /proc/net/tcp or /proc/net/tcp6 (`file` names it in errors). The header
/// line is skipped; a blank last line is allowed; any other line out of format is an error.
public func parseProcNetTCP(_ text: [UInt8], file: String) throws(ProcParseError) -> [SocketRecord] {
    var records: [SocketRecord] = []
    records.reserveCapacity(text.count / 150)
    var lineNumber = 0
    var lineStart = 0
    while lineStart < text.count {
        let lineEnd = text[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
        lineNumber += 1
        let line = text[lineStart..<lineEnd]
        lineStart = lineEnd + 1
        if lineNumber == 1 || line.allSatisfy({ $0 == UInt8(ascii: " ") }) { continue }
        do {
            records.append(try parseRow(line))
        } catch {
            throw ProcParseError(file: file, line: lineNumber, reason: error.reason, text: String(decoding: line, as: UTF8.self))
        }
    }
    return records
}

struct RowError: Error {
    let reason: String
}

/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`
private func parseRow(_ line: ArraySlice<UInt8>) throws(RowError) -> SocketRecord {
    var fields = FieldReader(line)
    guard let slot = fields.next(), slot.last == UInt8(ascii: ":") else { throw RowError(reason: "no slot number") }
    let local = try parseEndpoint(fields.next(), "local address")
    let remote = try parseEndpoint(fields.next(), "remote address")
    guard let stateCode = fields.next().flatMap({ hexNumber($0, maxDigits: 2) }), let state = TCPState(rawValue: UInt8(stateCode))
    else { throw RowError(reason: "unknown connection state") }
    let (sendQueue, receiveQueue) = try hexPair(fields.next(), "queue sizes")
    let (timerCode, timerTicks) = try hexPair(fields.next(), "timer")
    guard timerCode <= UInt64(UInt8.max) else { throw RowError(reason: "unknown timer code") }
    let retransmits = try number(fields.next(), hex: true, "retransmit count")
    let uid = try number(fields.next(), hex: false, "uid")
    let probes = try number(fields.next(), hex: false, "probe count")
    let inode = try number(fields.next(), hex: false, "inode")
    guard uid <= UInt64(UInt32.max), probes <= UInt64(UInt32.max), retransmits <= UInt64(UInt32.max),
        sendQueue <= UInt64(UInt32.max), receiveQueue <= UInt64(UInt32.max)
    else { throw RowError(reason: "a number out of range") }
    return SocketRecord(
        local: local, remote: remote, state: state, sendQueue: UInt32(sendQueue), receiveQueue: UInt32(receiveQueue),
        timer: SocketTimer(code: UInt8(timerCode)), timerTicks: timerTicks, retransmits: UInt32(retransmits),
        uid: UInt32(uid), probes: UInt32(probes), inode: inode)
}

/// Space-separated fields of one line, without copying.
private struct FieldReader {
    var rest: ArraySlice<UInt8>
    init(_ line: ArraySlice<UInt8>) { rest = line }

    mutating func next() -> ArraySlice<UInt8>? {
        guard let start = rest.firstIndex(where: { $0 != UInt8(ascii: " ") }) else { return nil }
        let end = rest[start...].firstIndex(of: UInt8(ascii: " ")) ?? rest.endIndex
        defer { rest = rest[end...] }
        return rest[start..<end]
    }
}

private func hexDigit(_ byte: UInt8) -> UInt64? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
    default: nil
    }
}

private func hexNumber(_ digits: ArraySlice<UInt8>, maxDigits: Int = 16) -> UInt64? {
    guard !digits.isEmpty, digits.count <= maxDigits else { return nil }
    var value: UInt64 = 0
    for byte in digits {
        guard let digit = hexDigit(byte) else { return nil }
        value = value << 4 | digit
    }
    return value
}

private func number(_ field: ArraySlice<UInt8>?, hex: Bool, _ what: String) throws(RowError) -> UInt64 {
    guard let field, !field.isEmpty else { throw RowError(reason: "missing \(what)") }
    if hex, let value = hexNumber(field) { return value }
    if !hex, field.count <= 19, field.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
        return field.reduce(0) { $0 * 10 + UInt64($1 - UInt8(ascii: "0")) }
    }
    throw RowError(reason: "malformed \(what)")
}

/// `00000000:00000000`, `02:00000B3F`
private func hexPair(_ field: ArraySlice<UInt8>?, _ what: String) throws(RowError) -> (UInt64, UInt64) {
    guard let field, let colon = field.firstIndex(of: UInt8(ascii: ":")),
        let first = hexNumber(field[..<colon]), let second = hexNumber(field[(colon + 1)...])
    else { throw RowError(reason: "malformed \(what)") }
    return (first, second)
}

/// `0100007F:BA75` (IPv4) or 32 hex digits and a port (IPv6). Each 32-bit word is printed in
/// host order, so on a little-endian host its bytes come out reversed.
private func parseEndpoint(_ field: ArraySlice<UInt8>?, _ what: String) throws(RowError) -> Endpoint {
    guard let field, let colon = field.firstIndex(of: UInt8(ascii: ":")),
        let port = hexNumber(field[(colon + 1)...], maxDigits: 4)
    else { throw RowError(reason: "malformed \(what)") }
    let hex = field[..<colon]
    guard hex.count == 8 || hex.count == 32 else { throw RowError(reason: "malformed \(what)") }
    var address: [UInt8] = []
    address.reserveCapacity(hex.count / 2)
    var wordStart = hex.startIndex
    while wordStart < hex.endIndex {
        guard let word = hexNumber(hex[wordStart..<(wordStart + 8)]) else { throw RowError(reason: "malformed \(what)") }
        // The word's bytes as the host stores it are the address bytes in network order.
        withUnsafeBytes(of: UInt32(word)) { address += $0 }
        wordStart += 8
    }
    return Endpoint(address: address, port: UInt16(port))
}
