/// The first line of every file tcpkeep writes: what it may replace or remove.
public let generatedFileMarker = "# Written by tcpkeep."

public func isWrittenByTcpkeep(_ content: String) -> Bool {
    content.hasPrefix(generatedFileMarker)
}

public enum FileChange: Equatable, Sendable {
    case create, unchanged, replace
}

/// A file in tcpkeep's way that tcpkeep did not write: it is never replaced or removed.
public struct GeneratedFileConflict: Error, Equatable, CustomStringConvertible, Sendable {
    public let path: String
    /// What tcpkeep was about to do: `replacing`, `removing`.
    public let action: String

    public init(path: String, action: String) {
        self.path = path
        self.action = action
    }

    public var description: String {
        "\(path) exists and was not written by tcpkeep (its first line is not '\(generatedFileMarker)'); not \(action) it: move it away or merge it by hand"
    }
}

/// What writing `new` over a file holding `existing` (nil: no file) does; a file tcpkeep did not
/// write is refused.
public func plannedChange(path: String, existing: String?, new: String) throws(GeneratedFileConflict) -> FileChange {
    guard let existing else { return .create }
    guard isWrittenByTcpkeep(existing) else { throw GeneratedFileConflict(path: path, action: "replacing") }
    return existing == new ? .unchanged : .replace
}

/// `idle 30s, then 3 probes 5s apart, user timeout 45000ms`, naming what is left to the system.
func settingsSummary(_ settings: KeepaliveSettings) -> String {
    var parts: [String] = []
    parts.append(settings.idle.map { "idle \(formatDuration(seconds: $0))" } ?? "the system's idle time")
    let probes = settings.count.map { "\($0) probe\($0 == 1 ? "" : "s")" } ?? "the system's probe count"
    let spacing = settings.interval.map { "\(formatDuration(seconds: $0)) apart" } ?? "at the system's interval"
    parts.append("then \(probes) \(spacing)")
    if let userTimeout = settings.userTimeout, userTimeout > 0 { parts.append("user timeout \(formatMilliseconds(userTimeout))") }
    return parts.joined(separator: ", ")
}

/// Comment lines, the marker first.
private func header(_ lines: [String]) -> String {
    ([generatedFileMarker + " " + lines[0]] + lines.dropFirst().map { "# " + $0 }).joined(separator: "\n") + "\n"
}

/// The drop-in for a service: the shim in LD_PRELOAD, in front of what the unit preloads already
/// (a drop-in's assignment replaces the unit's, it does not append), and the settings.
public func serviceDropIn(
    unit: UnitName, settings: KeepaliveSettings, library: String, existingPreload: String?
) -> String {
    var comments = [
        "`tcpkeep systemd \(unit) --write` rewrites it, `--remove` deletes it.",
        "Every TCP socket \(unit) creates gets keepalive: \(settingsSummary(settings)).",
    ]
    let preload = preloadList(putting: library, before: existingPreload)
    if preload != library {
        comments.append("LD_PRELOAD keeps the unit's own preload after the shim: Environment= here replaces it.")
    }
    let lines = launchEnvironment(settings: settings, library: library, existingPreload: existingPreload)
        .map { systemdEnvironmentLine(name: $0.name, value: $0.value) }
    return header(comments) + "[Service]\n" + lines.joined(separator: "\n") + "\n"
}

/// The drop-in for a socket unit: the service inherits the sockets already made, so systemd
/// sets keepalive on them itself.
public func socketDropIn(unit: UnitName, settings: KeepaliveSettings) -> String {
    var comments = [
        "`tcpkeep systemd \(unit) --write` rewrites it, `--remove` deletes it.",
        "systemd turns keepalive on for the sockets of \(unit), and connections accepted on them inherit it:",
        "\(settingsSummary(settings)). LD_PRELOAD cannot reach sockets a service inherits.",
    ]
    if let userTimeout = settings.userTimeout, userTimeout > 0 {
        comments.append("A .socket unit has no setting for the user timeout (\(formatMilliseconds(userTimeout))); the service must set TCP_USER_TIMEOUT itself.")
    }
    var lines = ["[Socket]", "KeepAlive=yes"]
    if let idle = settings.idle { lines.append("KeepAliveTimeSec=\(idle)") }
    if let interval = settings.interval { lines.append("KeepAliveIntervalSec=\(interval)") }
    if let count = settings.count { lines.append("KeepAliveProbes=\(count)") }
    return header(comments) + lines.joined(separator: "\n") + "\n"
}

/// The sysctl.d file path tcpkeep writes, relative to the root.
public let sysctlFilePath = "/etc/sysctl.d/60-tcpkeep.conf"

/// The sysctl.d file retiming the host's keepalive defaults; only the configured values.
public func sysctlFile(settings: KeepaliveSettings) throws(SettingsError) -> String {
    let values = [
        ("net.ipv4.tcp_keepalive_time", settings.idle), ("net.ipv4.tcp_keepalive_intvl", settings.interval),
        ("net.ipv4.tcp_keepalive_probes", settings.count),
    ].compactMap { name, value in value.map { "\(name) = \($0)" } }
    guard !values.isEmpty else {
        throw SettingsError("nothing to write: give --idle, --interval, --count, --profile or --detect-within")
    }
    var comments = [
        "`tcpkeep sysctl --write` rewrites it.",
        "These retime only sockets that already have keepalive on (SO_KEEPALIVE) and no values of their own,",
        "in the host's network namespace (each namespace has its own); they never turn keepalive on.",
        "To turn it on, use `tcpkeep run` or `tcpkeep systemd`.",
    ]
    if let userTimeout = settings.userTimeout, userTimeout > 0 {
        comments.append("There is no sysctl for the user timeout (\(formatMilliseconds(userTimeout))); it is set per socket only.")
    }
    return header(comments) + values.joined(separator: "\n") + "\n"
}

/// The instance of `tcpkeep-kernel@.service` that pins kernel mode's programs before `unit`
/// starts; an `@` in the unit's name is escaped, as an instance may hold none.
public func kernelPinService(_ unit: UnitName) -> UnitName {
    let instance = unit.name.split(separator: "@", omittingEmptySubsequences: false).joined(separator: "\\x40")
    return UnitName(placeholder: "tcpkeep-kernel@\(instance)", kind: .service)
}

/// The drop-in that hands a service's cgroup to kernel mode: systemd attaches the programs
/// `tcpkeep-kernel@UNIT.service` pinned to the unit's cgroup at each start, so every TCP
/// connection its processes make or accept gets keepalive, whatever the program is.
public func kernelDropIn(unit: UnitName, settings: KeepaliveSettings) -> String {
    let pins = unitPinDirectory(unit), pinService = kernelPinService(unit)
    var comments = [
        "`tcpkeep systemd \(unit) --kernel --write` rewrites it, `--remove` deletes it.",
        "At each start systemd attaches tcpkeep's BPF programs, pinned by \(pinService), to the unit's cgroup:",
        "every TCP connection its processes make or accept gets keepalive: \(settingsSummary(settings)).",
    ]
    var lines = ["[Unit]", "Wants=\(pinService)", "After=\(pinService)", "", "[Service]", "BPFProgram=sock_ops:\(pins)/sock_ops"]
    if settings.enforce {
        comments.append("A process's setsockopt() that would loosen these is rewritten to them.")
        lines.append("BPFProgram=setsockopt:\(pins)/setsockopt")
    }
    return header(comments) + lines.joined(separator: "\n") + "\n"
}

/// The drop-in for `tcpkeep-kernel@UNIT.service`: the settings its `tcpkeep kernel pin` reads,
/// as the shim's variables.
public func kernelPinDropIn(unit: UnitName, settings: KeepaliveSettings) -> String {
    let comments = [
        "`tcpkeep systemd \(unit) --kernel --write` rewrites it, `--remove` deletes it.",
        "The values tcpkeep kernel pin writes into the programs' map for \(unit).",
    ]
    var kernelSettings = settings
    kernelSettings.log = nil
    let lines = kernelSettings.environment.map { systemdEnvironmentLine(name: $0.name, value: $0.value) }
    return header(comments) + "[Service]\n" + lines.joined(separator: "\n") + "\n"
}
