/// The per-socket keepalive settings the shim applies, and the environment variables that carry
/// them. The variable names are libkeepalive's, so existing unit files keep working.
public struct KeepaliveSettings: Equatable, Sendable {
    /// Seconds of idleness before the first probe (TCP_KEEPIDLE); nil leaves the system's value.
    public var idle: Int?
    /// Seconds between probes (TCP_KEEPINTVL).
    public var interval: Int?
    /// Unanswered probes before the connection is dropped (TCP_KEEPCNT).
    public var count: Int?
    /// Milliseconds sent data may stay unacknowledged (TCP_USER_TIMEOUT); 0 is the system default.
    public var userTimeout: Int?
    /// Whether the shim also stops the program from loosening these values.
    public var enforce: Bool
    /// How much the shim writes to the program's stderr; nil leaves its default (errors only).
    public var log: ShimLogLevel?

    public init(
        idle: Int? = nil, interval: Int? = nil, count: Int? = nil, userTimeout: Int? = nil,
        enforce: Bool = false, log: ShimLogLevel? = nil
    ) {
        self.idle = idle
        self.interval = interval
        self.count = count
        self.userTimeout = userTimeout
        self.enforce = enforce
        self.log = log
    }

    /// The variables that hand these settings to the shim, in a stable order.
    public var environment: [(name: String, value: String)] {
        var variables: [(name: String, value: String)] = []
        for option in KeepaliveOption.allCases {
            if let value = self[keyPath: option.keyPath] {
                variables.append((option.variable, String(value)))
            }
        }
        if enforce { variables.append(("TCPKEEP_ENFORCE", "1")) }
        if let log { variables.append(("TCPKEEP_LOG", log.rawValue)) }
        return variables
    }
}

public enum ShimLogLevel: String, CaseIterable, Sendable {
    case quiet, error, debug
}

/// A yes/no variable (KEEPALIVE, TCPKEEP_ENFORCE) as the shim reads it: nil for a value it
/// would ignore.
public func shimSwitch(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "on", "1", "yes", "true": true
    case "off", "0", "no", "false": false
    default: nil
    }
}

/// The numeric options, with the kernel's ranges (include/net/tcp.h, do_tcp_setsockopt), which
/// the shim checks too.
public enum KeepaliveOption: CaseIterable, Sendable {
    case idle, interval, count, userTimeout

    public var variable: String {
        switch self {
        case .idle: "KEEPIDLE"
        case .interval: "KEEPINTVL"
        case .count: "KEEPCNT"
        case .userTimeout: "TCPKEEP_USER_TIMEOUT"
        }
    }

    public var flag: String {
        switch self {
        case .idle: "--idle"
        case .interval: "--interval"
        case .count: "--count"
        case .userTimeout: "--user-timeout"
        }
    }

    public var range: ClosedRange<Int> {
        switch self {
        case .idle, .interval: 1...32767
        case .count: 1...127
        case .userTimeout: 0...Int(Int32.max)
        }
    }

    /// What a value counts: seconds, milliseconds or probes.
    public var unit: DurationUnit? {
        switch self {
        case .idle, .interval: .seconds
        case .userTimeout: .milliseconds
        case .count: nil
        }
    }

    public var keyPath: WritableKeyPath<KeepaliveSettings, Int?> {
        switch self {
        case .idle: \.idle
        case .interval: \.interval
        case .count: \.count
        case .userTimeout: \.userTimeout
        }
    }

    /// The accepted range in words, for error messages.
    public var rangeDescription: String {
        switch unit {
        case .seconds: "\(range.lowerBound)s to \(range.upperBound)s (\(formatDuration(seconds: range.upperBound)))"
        case .milliseconds: "0 (the system default) to \(range.upperBound)ms"
        case nil: "\(range.lowerBound) to \(range.upperBound)"
        }
    }

    /// Parses a command-line value: a duration for the time options, a plain number for the
    /// count. The error says what is wrong and what is accepted; the caller names the flag.
    public func parse(_ text: String) throws(SettingsError) -> Int {
        let value: Int
        do throws(ValueError) {
            if let unit {
                value = try parseDuration(text, in: unit)
            } else {
                guard isDigits(text) else { throw .malformed }
                guard let number = Int(text) else { throw .tooLarge }
                value = number
            }
        } catch .malformed {
            throw SettingsError("not \(unit?.expectation ?? "a whole number"); expected \(rangeDescription)")
        } catch {
            throw SettingsError("out of range; expected \(rangeDescription)")
        }
        guard range.contains(value) else {
            throw SettingsError("out of range; expected \(rangeDescription)")
        }
        return value
    }

    /// Checks a value found in the environment the way the shim will read it: digits only.
    public func checkEnvironmentValue(_ text: String) throws(SettingsError) {
        guard let value = parseWholeNumber(text), range.contains(value) else {
            let what = unit.map { "\($0)" } ?? "probes"
            throw SettingsError(
                "\(variable)='\(text)' in the environment is invalid: the shim takes a whole number of \(what) from \(range.lowerBound) to \(range.upperBound)"
            )
        }
    }
}

public struct SettingsError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
