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

/// Why a duration or a number was refused.
public enum ValueError: Error, Equatable, Sendable {
    /// Not in the accepted form: a sign, a space, a unknown or repeated unit.
    case malformed
    /// In the accepted form, but beyond what the value can hold.
    case tooLarge
}

/// The units of a duration, largest first: each may appear once, in this order.
private let durationUnits: [(suffix: Substring, milliseconds: Int)] = [
    ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
]

/// Parses `90`, `90s`, `5m`, `2h`, `1d`, `1500ms` and sums such as `1m30s` (largest unit first,
/// each once) into a whole number of `unit`. A bare number is seconds. A duration that is not a
/// whole number of seconds is malformed where seconds are asked for.
public func parseDuration(_ text: String, in unit: DurationUnit) throws(ValueError) -> Int {
    if isDigits(text) {
        guard let seconds = Int(text), let value = unit == .seconds ? seconds : multiply(seconds, 1000) else {
            throw .tooLarge
        }
        return value
    }
    var milliseconds = 0
    var rest = Substring(text)
    var nextUnit = 0
    guard !rest.isEmpty else { throw .malformed }
    while !rest.isEmpty {
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        rest = rest.dropFirst(digits.count)
        let suffix = rest.prefix(while: { $0.isASCII && $0.isLetter })
        rest = rest.dropFirst(suffix.count)
        guard !digits.isEmpty, let index = durationUnits.firstIndex(where: { $0.suffix == suffix }), index >= nextUnit else {
            throw .malformed
        }
        nextUnit = index + 1
        guard let number = Int(digits), let part = multiply(number, durationUnits[index].milliseconds) else { throw .tooLarge }
        let (sum, overflow) = milliseconds.addingReportingOverflow(part)
        guard !overflow else { throw .tooLarge }
        milliseconds = sum
    }
    switch unit {
    case .milliseconds: return milliseconds
    case .seconds:
        guard milliseconds % 1000 == 0 else { throw .malformed }
        return milliseconds / 1000
    }
}

/// Digits only: no sign, no spaces, no unit; nil when malformed or beyond an Int.
public func parseWholeNumber(_ text: String) -> Int? {
    isDigits(text) ? Int(text) : nil
}

func isDigits(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
}

private func multiply(_ a: Int, _ b: Int) -> Int? {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? nil : product
}

/// A duration in milliseconds as the flags take it: `45s`, `1m30s`, `1500ms`, `0s`.
public func formatMilliseconds(_ milliseconds: Int) -> String {
    milliseconds % 1000 == 0 ? formatDuration(seconds: milliseconds / 1000) : "\(milliseconds)ms"
}

/// `1 probe`, `3 probes`.
public func counted(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// `9h6m7s` for 32767, `90s` for 90, `2m` for 120: the largest units first, zero parts left out.
public func formatDuration(seconds: Int) -> String {
    guard seconds > 0 else { return "0s" }
    let parts = [(seconds / 86400, "d"), (seconds % 86400 / 3600, "h"), (seconds % 3600 / 60, "m"), (seconds % 60, "s")]
    return parts.filter { $0.0 > 0 }.map { "\($0.0)\($0.1)" }.joined()
}
