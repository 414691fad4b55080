/// One row of /proc/net/tcp or /proc/net/tcp6: a TCP socket as the kernel reports it.
///
/// The fields are declared so that the small ones fill the gaps after each 18-byte endpoint:
/// 80 bytes a socket, where the order of the columns took 88, and an audit holds tens of
/// thousands.
public struct SocketRecord: Equatable, Sendable {
    public var local: Endpoint
    public var state: TCPState
    /// The one pending timer the kernel shows (1 beats 4 beats 2 when several are).
    public var timer: SocketTimer
    public var remote: Endpoint
    public var sendQueue: UInt32
    public var receiveQueue: UInt32
    public var retransmits: UInt32
    public var uid: UInt32
    /// Unanswered keepalive (or zero-window) probes.
    public var probes: UInt32
    /// Time until that timer fires, in USER_HZ ticks (1/100 s).
    public var timerTicks: UInt64
    /// The socket's inode: 0 when no file refers to it (TIME_WAIT, orphaned).
    public var inode: UInt64

    public var timerSeconds: Double { Double(timerTicks) / 100 }

    /// A socket read another way than from /proc (netlink's sock_diag), in /proc's terms:
    /// `timerTicks` in 1/100 s, `probes` as /proc's `timeout` column.
    public init(
        local: Endpoint, remote: Endpoint, state: TCPState, sendQueue: UInt32, receiveQueue: UInt32, timer: SocketTimer,
        timerTicks: UInt64, retransmits: UInt32, uid: UInt32, probes: UInt32, inode: UInt64
    ) {
        self.local = local
        self.remote = remote
        self.state = state
        self.sendQueue = sendQueue
        self.receiveQueue = receiveQueue
        self.timer = timer
        self.timerTicks = timerTicks
        self.retransmits = retransmits
        self.uid = uid
        self.probes = probes
        self.inode = inode
    }
}

public enum SocketTimer: Equatable, Sendable {
    case none, retransmit, keepalive, timeWait, zeroWindowProbe
    case other(UInt8)

    /// The kernel's timer code (/proc's `tr`, sock_diag's idiag_timer).
    public init(code: UInt8) {
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
    /// The address's 16 bytes in network order, the first 8 in `high`; IPv4 is IPv4-mapped.
    /// Kept inline: a busy host has tens of thousands of endpoints.
    private let high: UInt64
    let low: UInt64
    public let port: UInt16

    private static let mappedPrefix: UInt64 = 0x0000_ffff_0000_0000

    /// `address` holds 4 bytes for IPv4 or 16 for IPv6, in network order; nil for another length.
    public init?(address: [UInt8], port: UInt16) {
        guard address.count == 4 || address.count == 16 else { return nil }
        let bytes = address.count == 4 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + address : address
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        self.port = port
    }

    /// From the address's 16 bytes in network order read as two big-endian numbers: the
    /// first 8 bytes in `high`, the last 8 in `low` (IPv4 as ::ffff:a.b.c.d).
    public init(high: UInt64, low: UInt64, port: UInt16) {
        self.high = high
        self.low = low
        self.port = port
    }

    /// From the kernel's four 32-bit words, each holding four address bytes in memory order.
    init(words: (UInt32, UInt32, UInt32, UInt32), port: UInt16) {
        func networkOrder(_ word: UInt32) -> UInt64 { UInt64(UInt32(bigEndian: word)) }
        high = networkOrder(words.0) << 32 | networkOrder(words.1)
        low = networkOrder(words.2) << 32 | networkOrder(words.3)
        self.port = port
    }

    public var isIPv4: Bool { high == 0 && low & 0xffff_ffff_0000_0000 == Self.mappedPrefix }

    /// `127.0.0.1:7000`, `[::1]:7000`
    public var description: String {
        guard isIPv4 else { return "[\(formatAddress)]:\(port)" }
        var text = TextBytes(capacity: 21)
        text.append(self)
        return text.string
    }

    /// The address alone, IPv6 in the shortest form (RFC 5952).
    public var formatAddress: String {
        if let (address, _) = ipv4 {
            var text = TextBytes(capacity: 15)
            text.append(ipv4: address)
            return text.string
        }
        let groups = [48, 32, 16, 0].map { UInt16(truncatingIfNeeded: high >> $0) } + [48, 32, 16, 0].map { UInt16(truncatingIfNeeded: low >> $0) }
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
    // Raw bytes rather than slices: a busy host has tens of thousands of rows.
    let parsed: Result<[SocketRecord], ProcParseError> = text.withUnsafeBufferPointer { bytes in
        var records: [SocketRecord] = []
        records.reserveCapacity(bytes.count / 150)
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != newline { lineEnd += 1 }
            lineNumber += 1
            defer { lineStart = lineEnd + 1 }
            if lineNumber == 1 || (lineStart..<lineEnd).allSatisfy({ bytes[$0] == space }) { continue }
            var fields = FieldReader(bytes: bytes, position: lineStart, end: lineEnd)
            do throws(RowError) {
                records.append(try parseRow(&fields))
            } catch {
                let line = String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd]), as: UTF8.self)
                return .failure(ProcParseError(file: file, line: lineNumber, reason: error.reason, text: line))
            }
        }
        return .success(records)
    }
    return try parsed.get()
}

private let newline = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")
private let colon = UInt8(ascii: ":")

struct RowError: Error {
    let reason: String
}

/// Space-separated fields of one line, as index ranges into the text.
private struct FieldReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int
    let end: Int

    mutating func next() -> Range<Int>? {
        while position < end && bytes[position] == space { position += 1 }
        guard position < end else { return nil }
        let start = position
        while position < end && bytes[position] != space { position += 1 }
        return start..<position
    }

    func hexNumber(_ range: Range<Int>, maxDigits: Int = 16) -> UInt64? {
        guard !range.isEmpty, range.count <= maxDigits else { return nil }
        var value: UInt64 = 0
        for index in range {
            guard let digit = hexDigit(bytes[index]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    func decimalNumber(_ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 19 else { return nil }
        var value: UInt64 = 0
        for index in range {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + UInt64(digit)
        }
        return value
    }

    func colonIndex(_ range: Range<Int>) -> Int? {
        range.first { bytes[$0] == colon }
    }
}

/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`
private func parseRow(_ fields: inout FieldReader) throws(RowError) -> SocketRecord {
    guard let slot = fields.next(), fields.bytes[slot.upperBound - 1] == colon else { throw RowError(reason: "no slot number") }
    let local = try parseEndpoint(fields.next(), in: fields, "local address")
    let remote = try parseEndpoint(fields.next(), in: fields, "remote address")
    guard let stateCode = fields.next().flatMap({ fields.hexNumber($0, maxDigits: 2) }), let state = TCPState(rawValue: UInt8(stateCode))
    else { throw RowError(reason: "unknown connection state") }
    let (sendQueue, receiveQueue) = try hexPair(fields.next(), in: fields, "queue sizes")
    let (timerCode, timerTicks) = try hexPair(fields.next(), in: fields, "timer")
    guard timerCode <= UInt64(UInt8.max) else { throw RowError(reason: "unknown timer code") }
    let retransmits = try number(fields.next(), in: fields, hex: true, "retransmit count")
    let uid = try number(fields.next(), in: fields, hex: false, "uid")
    let probes = try number(fields.next(), in: fields, hex: false, "probe count")
    let inode = try number(fields.next(), in: fields, hex: false, "inode")
    guard uid <= UInt64(UInt32.max), probes <= UInt64(UInt32.max), retransmits <= UInt64(UInt32.max),
        sendQueue <= UInt64(UInt32.max), receiveQueue <= UInt64(UInt32.max)
    else { throw RowError(reason: "a number out of range") }
    return SocketRecord(
        local: local, remote: remote, state: state, sendQueue: UInt32(sendQueue), receiveQueue: UInt32(receiveQueue),
        timer: SocketTimer(code: UInt8(timerCode)), timerTicks: timerTicks, retransmits: UInt32(retransmits),
        uid: UInt32(uid), probes: UInt32(probes), inode: inode)
}

private func hexDigit(_ byte: UInt8) -> UInt64? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
    default: nil
    }
}

private func number(_ field: Range<Int>?, in fields: FieldReader, hex: Bool, _ what: String) throws(RowError) -> UInt64 {
    guard let field else { throw RowError(reason: "missing \(what)") }
    guard let value = hex ? fields.hexNumber(field) : fields.decimalNumber(field) else { throw RowError(reason: "malformed \(what)") }
    return value
}

/// `00000000:00000000`, `02:00000B3F`
private func hexPair(_ field: Range<Int>?, in fields: FieldReader, _ what: String) throws(RowError) -> (UInt64, UInt64) {
    guard let field, let colon = fields.colonIndex(field),
        let first = fields.hexNumber(field.lowerBound..<colon), let second = fields.hexNumber((colon + 1)..<field.upperBound)
    else { throw RowError(reason: "malformed \(what)") }
    return (first, second)
}

/// `0100007F:BA75` (IPv4) or 32 hex digits and a port (IPv6). Each 32-bit word is printed in
/// host order, so on a little-endian host its bytes come out reversed.
private func parseEndpoint(_ field: Range<Int>?, in fields: FieldReader, _ what: String) throws(RowError) -> Endpoint {
    guard let field, let colon = fields.colonIndex(field),
        let port = fields.hexNumber((colon + 1)..<field.upperBound, maxDigits: 4),
        colon - field.lowerBound == 8 || colon - field.lowerBound == 32
    else { throw RowError(reason: "malformed \(what)") }
    func word(_ index: Int) throws(RowError) -> UInt32 {
        let start = field.lowerBound + 8 * index
        guard let word = fields.hexNumber(start..<(start + 8)) else { throw RowError(reason: "malformed \(what)") }
        return UInt32(word)
    }
    // An IPv4 row has one word: as an IPv4-mapped address it is ::ffff:a.b.c.d.
    let all = colon - field.lowerBound == 8
        ? (0, 0, UInt32(0xffff).bigEndian, try word(0)) : (try word(0), try word(1), try word(2), try word(3))
    return Endpoint(words: all, port: UInt16(port))
}
