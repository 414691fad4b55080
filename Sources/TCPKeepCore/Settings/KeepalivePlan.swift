/// The Linux defaults a socket falls back to for a value the settings leave out.
public enum SystemDefault {
    /// net.ipv4.tcp_keepalive_time, _intvl and _probes.
    public static let idle = 7200, interval = 75, count = 9
    /// With no user timeout, unacknowledged data is retransmitted tcp_retries2 = 15 times with
    /// exponential backoff from a 200 ms RTO capped at 120 s: about 924.6 s.
    public static let retransmissionGiveUp = "about 15 min (924.6s: net.ipv4.tcp_retries2 = 15 retransmissions with backoff)"
}

/// What an idle healthy connection sends per probe: IPv4 and TCP headers with the timestamp
/// option Linux uses by default, no payload, no link-layer framing. The peer's ACK is as large.
public let probeBytes = 52

/// The consequences of a set of keepalive settings, computed the way the kernel acts.
public struct KeepalivePlan: Equatable, Sendable {
    public let idle: Int
    public let interval: Int
    public let count: Int
    /// Milliseconds; 0 when unset, as for the kernel.
    public let userTimeout: Int

    public init(_ settings: KeepaliveSettings) {
        idle = settings.idle ?? SystemDefault.idle
        interval = settings.interval ?? SystemDefault.interval
        count = settings.count ?? SystemDefault.count
        userTimeout = settings.userTimeout ?? 0
    }

    /// Seconds from a silent peer death to an error on an idle connection. The keepalive timer
    /// fires at idle, idle + interval, ...; each firing after the first probe aborts once
    /// `count` probes are out, or, with a user timeout, once the silence has lasted that long
    /// (tcp_keepalive_timer), so the user timeout replaces the count.
    public var idleDetectionSeconds: Int {
        guard userTimeout > 0 else { return detectionBound(idle: idle, interval: interval, count: count) }
        let silence = (userTimeout + 999) / 1000
        let probesBeforeAbort = max(1, (silence - idle + interval - 1) / interval)
        return idle + interval * probesBeforeAbort
    }

    /// Probes an idle connection to a healthy peer sends in an hour: one each idle period.
    public var probesPerHour: Double { 3600 / Double(idle) }

    /// Bytes those probes and their acknowledgements carry in an hour.
    public var bytesPerHour: Int { Int((probesPerHour * Double(2 * probeBytes)).rounded()) }
}

/// The text of `tcpkeep plan`: the values, what they mean and the files they would produce
/// with the shim at `library`.
public func planReport(settings: KeepaliveSettings, library: String) -> String {
    let unit = UnitName(placeholder: "UNIT", kind: .service)
    let sysctl: String
    do throws(SettingsError) {
        sysctl = try sysctlFile(settings: settings)
    } catch {
        sysctl = "(none: \(error.description))\n"
    }
    let outputs = [
        ("tcpkeep env (for a shell without LD_PRELOAD)",
         exportLines(launchEnvironment(settings: settings, library: library, existingPreload: nil))),
        ("tcpkeep systemd UNIT --write: \(tcpkeepDropInPath(unit)) (for a unit without LD_PRELOAD)",
         serviceDropIn(unit: unit, settings: settings, library: library, existingPreload: nil)),
        ("tcpkeep sysctl --write: \(sysctlFilePath)", sysctl),
    ]
    let plan = KeepalivePlan(settings)
    func value(_ configured: Int?, _ fallback: Int, _ sysctl: String, _ format: (Int) -> String) -> String {
        configured.map(format) ?? "left to the system (\(sysctl), \(format(fallback)) by default)"
    }
    let seconds = { (value: Int) in value < 60 ? "\(value)s" : "\(value)s (\(formatDuration(seconds: value)))" }
    var lines = [
        "Values",
        "  idle before the first probe   \(value(settings.idle, SystemDefault.idle, "net.ipv4.tcp_keepalive_time", seconds))",
        "  interval between probes       \(value(settings.interval, SystemDefault.interval, "net.ipv4.tcp_keepalive_intvl", seconds))",
        "  probes before giving up       \(value(settings.count, SystemDefault.count, "net.ipv4.tcp_keepalive_probes", String.init))",
        "  user timeout                  \(settings.userTimeout.flatMap { $0 > 0 ? formatMilliseconds($0) : nil } ?? "none (the system's retransmission limit applies)")",
        "",
        "Worst-case time to notice a silently dead peer",
        "  idle connection               \(seconds(plan.idleDetectionSeconds))\(plan.userTimeout > 0 ? "" : " (idle + interval x probes)")",
        "  data in flight                \(plan.userTimeout > 0 ? "\(formatMilliseconds(plan.userTimeout)) (the user timeout)" : "never bounded by these settings: \(SystemDefault.retransmissionGiveUp)")",
        "",
        "Probe traffic of one idle connection to a live peer",
        "  \(formatRate(plan.probesPerHour)) probes an hour, \(plan.bytesPerHour) bytes an hour with the replies (\(probeBytes) bytes each way: IPv4 + TCP headers with timestamps, no link-layer framing)",
    ]
    for (title, content) in outputs {
        lines += ["", title] + content.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "  \($0)" }
    }
    return lines.joined(separator: "\n") + "\n"
}

/// A rate with at most one decimal: `514.3`, `45`.
func formatRate(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
}
