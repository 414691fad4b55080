import ArgumentParser
import TCPKeepCore

// Values whose every form is known: completions offer them, and a wrong one is named with the
// list of right ones.
extension KeepaliveProfile: ExpressibleByArgument {}
extension ShimLogLevel: ExpressibleByArgument {}
extension AuditFormat: ExpressibleByArgument {}
extension DoctorFormat: ExpressibleByArgument {}

/// The parsers of values with a form of their own (durations, ports, unit names), each run
/// once while the command line is read; a bad value is reported with what is accepted.
enum Parse {
    static func option(_ option: KeepaliveOption) -> @Sendable (String) throws -> Int {
        { text in try option.parse(text) }
    }

    /// A duration in whole seconds.
    static func seconds(_ text: String) throws -> Int {
        guard let seconds = parseDuration(text, in: .seconds) else {
            throw SettingsError("not \(DurationUnit.seconds.expectation)")
        }
        return seconds
    }

    /// A duration in whole seconds above 0.
    static func positiveSeconds(_ text: String) throws -> Int {
        guard let seconds = parseDuration(text, in: .seconds), seconds > 0 else {
            throw SettingsError("not a duration in whole seconds above 0 (90, 90s, 5m, 2h)")
        }
        return seconds
    }

    static func portRange(_ text: String) throws -> PortRange {
        guard let range = PortRange(text) else {
            throw SettingsError("not a port (0 to 65535) or a range such as 17000-17002")
        }
        return range
    }

    static func unitName(_ text: String) throws -> UnitName {
        try UnitName(text)
    }
}
