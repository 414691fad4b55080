public enum DurationUnit: String, Sendable, CustomStringConvertible {
    case seconds, milliseconds

    public var description: String { rawValue }

    public var expectation: String {
        switch self {
        case .seconds: "a duration in whole seconds (90, 90s, 5m, 1h30m)"
        case .milliseconds: "a duration (1500ms, 90s, 5m; a bare number is seconds)"
        }
    }
}

/// Parses `90`, `90s`, `5m`, `2h`, `1d`, `1500ms` and sums such as `1m30s` into a whole number of
/// `unit`. A bare number is seconds. Nil when the text is malformed, overflows, or (for seconds)
/// is not a whole number of seconds.
public func parseDuration(_ text: String, in unit: DurationUnit) -> Int? {
    if let seconds = parseWholeNumber(text) {
        return unit == .seconds ? seconds : multiply(seconds, 1000)
    }
    var milliseconds = 0
    var rest = Substring(text)
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        guard let number = parseWholeNumber(String(digits)) else { return nil }
        rest = rest.dropFirst(digits.count)
        let suffix = rest.prefix(while: { $0.isASCII && $0.isLetter })
        rest = rest.dropFirst(suffix.count)
        let scale: Int
        switch suffix {
        case "ms": scale = 1
        case "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        default: return nil
        }
        guard let part = multiply(number, scale) else { return nil }
        let (sum, overflow) = milliseconds.addingReportingOverflow(part)
        guard !overflow else { return nil }
        milliseconds = sum
    }
    switch unit {
    case .milliseconds: return milliseconds
    case .seconds: return milliseconds % 1000 == 0 ? milliseconds / 1000 : nil
    }
}

/// Digits only: no sign, no spaces, no unit; nil on overflow.
public func parseWholeNumber(_ text: String) -> Int? {
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    else { return nil }
    return Int(text)
}

private func multiply(_ a: Int, _ b: Int) -> Int? {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? nil : product
}

/// `9h6m7s` for 32767, `90s` for 90, `2m` for 120: the largest units first, zero parts left out.
public func formatDuration(seconds: Int) -> String {
    guard seconds > 0 else { return "0s" }
    let parts = [(seconds / 86400, "d"), (seconds % 86400 / 3600, "h"), (seconds % 3600 / 60, "m"), (seconds % 60, "s")]
    return parts.filter { $0.0 > 0 }.map { "\($0.0)\($0.1)" }.joined()
}
