import ArgumentParser
import TCPKeep

/// The keepalive settings every command that configures the shim takes.
struct SettingsOptions: ParsableArguments {
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
        var settings = KeepaliveSettings(enforce: enforce)
        do {
            settings.idle = try idle.map(KeepaliveOption.idle.parse)
            settings.interval = try interval.map(KeepaliveOption.interval.parse)
            settings.count = try count.map(KeepaliveOption.count.parse)
            settings.userTimeout = try userTimeout.map(KeepaliveOption.userTimeout.parse)
        } catch {
            throw ValidationError(error.description)
        }
        if let log {
            guard let level = ShimLogLevel(rawValue: log) else {
                throw ValidationError("--log: '\(log)' is not one of quiet, error, debug")
            }
            settings.log = level
        }
        return settings
    }

    func validate() throws {
        _ = try settings()
    }
}
