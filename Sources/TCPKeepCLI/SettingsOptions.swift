import ArgumentParser
import TCPKeepCore

/// The keepalive timing of each socket: a profile, a detection window or explicit values.
struct TimingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Preset values: lan (7s, 1s, 3 probes), datacenter (30s, 5s, 3), internet (80s, 20s, 4) or mobile (240s, 30s, 4), each with a user timeout of its detection time. Explicit values override it.",
        valueName: "name"))
    var profile: KeepaliveProfile?

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Derive the values so that a silently dead peer is noticed within this time, e.g. 30s, 2m; the user timeout is the same time. Explicit values override them and must still fit.",
        valueName: "duration"), transform: Parse.seconds)
    var detectWithin: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Idle time before the first probe (TCP_KEEPIDLE), e.g. 60, 90s, 5m.", valueName: "duration"), transform: Parse.option(.idle))
    var idle: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Time between probes (TCP_KEEPINTVL).", valueName: "duration"), transform: Parse.option(.interval))
    var interval: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Unanswered probes before the connection is dropped (TCP_KEEPCNT), 1 to 127.", valueName: "n"), transform: Parse.option(.count))
    var count: Int?

    /// The settings these values resolve to, with the rest given; an impossible combination
    /// is a usage error.
    func resolve(userTimeout: Int? = nil, enforce: Bool = false, log: ShimLogLevel? = nil) throws -> KeepaliveSettings {
        let explicit = KeepaliveSettings(
            idle: idle, interval: interval, count: count, userTimeout: userTimeout, enforce: enforce, log: log)
        do {
            return try resolveSettings(profile: profile, detectWithin: detectWithin, explicit: explicit)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// TCP_USER_TIMEOUT, for the commands that set it on sockets.
struct UserTimeoutOption: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("How long sent data may stay unacknowledged (TCP_USER_TIMEOUT), e.g. 1500ms, 30s.", valueName: "duration"), transform: Parse.option(.userTimeout))
    var userTimeout: Int?
}

/// Everything the preload shim takes: the timing, the user timeout, and how it behaves.
struct ShimSettingsOptions: ParsableArguments {
    @OptionGroup var timing: TimingOptions
    @OptionGroup var timeout: UserTimeoutOption

    @Flag(help: "Stop the program from turning keepalive off or setting longer values than these.")
    var enforce = false

    @Option(help: ArgumentHelp("What the shim writes to the program's stderr: quiet, error (the default) or debug.", valueName: "level"))
    var log: ShimLogLevel?

    func settings() throws -> KeepaliveSettings {
        try timing.resolve(userTimeout: timeout.userTimeout, enforce: enforce, log: log)
    }
}
