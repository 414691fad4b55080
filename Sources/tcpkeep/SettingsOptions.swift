import ArgumentParser
import TCPKeep

/// The keepalive settings every command that configures the shim takes.
struct SettingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Preset values: lan (7s, 1s, 3 probes), datacenter (30s, 5s, 3), internet (80s, 20s, 4) or mobile (240s, 30s, 4), each with a user timeout of its detection time. Explicit values override it.",
        valueName: "name"))
    var profile: String?

    @Option(help: ArgumentHelp(
        "Derive the values so that a silently dead peer is noticed within this time, e.g. 30s, 2m; the user timeout is the same time. Explicit values override them and must still fit.",
        valueName: "duration"))
    var detectWithin: String?

    @Option(help: ArgumentHelp("Idle time before the first probe (TCP_KEEPIDLE), e.g. 60, 90s, 5m.", valueName: "duration"))
    var idle: String?

    @Option(help: ArgumentHelp("Time between probes (TCP_KEEPINTVL).", valueName: "duration"))
    var interval: String?

    @Option(help: ArgumentHelp("Unanswered probes before the connection is dropped (TCP_KEEPCNT), 1 to 127.", valueName: "n"))
    var count: String?

    @Option(help: ArgumentHelp("How long sent data may stay unacknowledged (TCP_USER_TIMEOUT), e.g. 1500ms, 30s.", valueName: "duration"))
    var userTimeout: String?

    @Flag(help: "Stop the program from turning keepalive off or setting longer values than these.")
    var enforce = false

    @Option(help: ArgumentHelp("What the shim writes to the program's stderr: quiet, error (the default) or debug.", valueName: "level"))
    var log: String?

    /// The checked settings; a malformed or out-of-range value is a usage error.
    func settings() throws -> KeepaliveSettings {
        var explicit = KeepaliveSettings(enforce: enforce)
        if let log {
            guard let level = ShimLogLevel(rawValue: log) else {
                throw ValidationError("--log: '\(log)' is not one of quiet, error, debug")
            }
            explicit.log = level
        }
        let chosenProfile = try profile.map { name in
            guard let profile = KeepaliveProfile(rawValue: name) else {
                throw ValidationError("--profile: '\(name)' is not one of \(KeepaliveProfile.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return profile
        }
        do throws(SettingsError) {
            explicit.idle = try idle.map(KeepaliveOption.idle.parse)
            explicit.interval = try interval.map(KeepaliveOption.interval.parse)
            explicit.count = try count.map(KeepaliveOption.count.parse)
            explicit.userTimeout = try userTimeout.map(KeepaliveOption.userTimeout.parse)
            let window = try detectWithin.map { text throws(SettingsError) in
                guard let seconds = parseDuration(text, in: .seconds) else {
                    throw SettingsError("--detect-within: '\(text)' is not \(DurationUnit.seconds.expectation)")
                }
                return seconds
            }
            return try resolveSettings(profile: chosenProfile, detectWithin: window, explicit: explicit)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        _ = try settings()
    }
}
