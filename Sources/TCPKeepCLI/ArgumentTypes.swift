import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

// Values whose every form is known: completions offer them, and a wrong one is named with the
// list of right ones.
extension KeepaliveProfile: ExpressibleByArgument {}
extension ShimLogLevel: ExpressibleByArgument {}
extension AuditFormat: ExpressibleByArgument {}
extension AuditSource: ExpressibleByArgument {}
extension OwnerSource: ExpressibleByArgument {}
extension DoctorFormat: ExpressibleByArgument {}
extension KernelStatusFormat: ExpressibleByArgument {}

extension CompletionKind {
    /// Service and socket units, as `tcpkeep systemd` takes them.
    static let configurableUnits = CompletionKind.custom { _, _, prefix in CompletionCandidates.units(["service", "socket"], prefix: prefix) }
    static let services = CompletionKind.custom { _, _, prefix in CompletionCandidates.units(["service"], prefix: prefix) }
    static let units = CompletionKind.custom { _, _, prefix in CompletionCandidates.units(prefix: prefix) }
    static let processIDs = CompletionKind.custom { _, _, prefix in CompletionCandidates.processIDs(prefix: prefix) }
}

/// The parsers of values with a form of their own (durations, ports, unit names), each run
/// once while the command line is read; a bad value is reported with what is accepted.
enum Parse {
    static func option(_ option: KeepaliveOption) -> @Sendable (String) throws -> Int {
        { text in try option.parse(text) }
    }

    /// A duration in whole seconds.
    static func seconds(_ text: String) throws -> Int {
        do throws(ValueError) {
            return try parseDuration(text, in: .seconds)
        } catch .tooLarge {
            throw SettingsError("too long")
        } catch {
            throw SettingsError("not \(DurationUnit.seconds.expectation)")
        }
    }

    /// A duration in whole seconds above 0.
    static func positiveSeconds(_ text: String) throws -> Int {
        guard let seconds = try? parseDuration(text, in: .seconds), seconds > 0 else {
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

    /// A valid name of a unit of any type, `.service` added to a bare one.
    static func anyUnitName(_ text: String) throws -> String {
        try checkedUnitName(text)
    }
}
