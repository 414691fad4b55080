/// Documented presets for idle, interval and count. Each also bounds the data-in-flight case with
/// a user timeout equal to its idle detection time (the README explains the choices).
public enum KeepaliveProfile: String, CaseIterable, Sendable {
    case lan, datacenter, internet, mobile

    public var idle: Int {
        switch self {
        case .lan: 7
        case .datacenter: 30
        case .internet: 80
        case .mobile: 240
        }
    }

    public var interval: Int {
        switch self {
        case .lan: 1
        case .datacenter: 5
        case .internet: 20
        case .mobile: 30
        }
    }

    public var count: Int {
        switch self {
        case .lan, .datacenter: 3
        case .internet, .mobile: 4
        }
    }

    public var settings: KeepaliveSettings {
        KeepaliveSettings(
            idle: idle, interval: interval, count: count,
            userTimeout: detectionBound(idle: idle, interval: interval, count: count) * 1000)
    }
}

/// Seconds from a peer's silent death to an error on an idle connection, when the user timeout
/// does not cut it short: the idle time, then `count` unanswered probes.
public func detectionBound(idle: Int, interval: Int, count: Int) -> Int {
    idle + interval * count
}

/// The smallest `--detect-within`: one second idle and one probe one second later.
public let smallestDetectionWindow = detectionBound(
    idle: KeepaliveOption.idle.range.lowerBound, interval: KeepaliveOption.interval.range.lowerBound,
    count: KeepaliveOption.count.range.lowerBound)

/// Values that detect a silently dead peer within `window` seconds, around the `pinned` values
/// the command line gives explicitly.
///
/// The rule: three probes (fewer only when the window is under 4 s) a tenth of the window apart,
/// and the rest of the window idle, so 10 s gives lan's 7 s / 1 s / 3. Idle and interval are
/// capped at the kernel's 32767 s, which only shortens the detection time. The user timeout is the
/// detection time of the values: it bounds the case keepalive does not cover (sent data never
/// acknowledged), and a longer one would delay the abort past the last probe, since with a user
/// timeout the kernel aborts at the first keepalive timer after it. It is the window itself unless
/// a cap or a pinned value leaves slack. Pinned values may overshoot; `resolveSettings` refuses that.
public func settingsDetecting(
    within window: Int, around pinned: KeepaliveSettings = KeepaliveSettings()
) throws(SettingsError) -> KeepaliveSettings {
    guard window >= smallestDetectionWindow else {
        throw SettingsError(
            "--detect-within: \(formatDuration(seconds: window)) is too short; the kernel's minimums (1s idle, then 1 probe 1s later) need at least \(formatDuration(seconds: smallestDetectionWindow))")
    }
    let userTimeout = KeepaliveOption.userTimeout.range
    guard window <= userTimeout.upperBound / 1000 else {
        throw SettingsError(
            "--detect-within: \(formatDuration(seconds: window)) is too long; TCP_USER_TIMEOUT takes at most \(userTimeout.upperBound)ms (\(formatDuration(seconds: userTimeout.upperBound / 1000)))")
    }
    var settings = pinned
    let interval = pinned.interval ?? min(max(window / 10, 1), KeepaliveOption.interval.range.upperBound)
    let count = pinned.count ?? max(1, min(3, (window - (pinned.idle ?? 1)) / interval))
    settings.interval = interval
    settings.count = count
    let idle = pinned.idle ?? max(1, min(window - interval * count, KeepaliveOption.idle.range.upperBound))
    settings.idle = idle
    settings.userTimeout = pinned.userTimeout ?? detectionBound(idle: idle, interval: interval, count: count) * 1000
    return settings
}

/// The settings from a profile or a detection window, with the explicitly given values on top.
///
/// Unless `--user-timeout` is given, the user timeout follows the final values: a profile's is the
/// detection bound of the values in effect. With `--detect-within` the values in effect, explicit
/// ones included, must notice a dead peer within the window, idle or with data in flight.
public func resolveSettings(
    profile: KeepaliveProfile?, detectWithin: Int?, explicit: KeepaliveSettings
) throws(SettingsError) -> KeepaliveSettings {
    var settings = explicit
    switch (profile, detectWithin) {
    case (nil, nil):
        return explicit
    case (_?, _?):
        throw SettingsError("--profile and --detect-within both choose the values; give one of them")
    case (let profile?, nil):
        settings.idle = explicit.idle ?? profile.idle
        settings.interval = explicit.interval ?? profile.interval
        settings.count = explicit.count ?? profile.count
        let bound = detectionBound(idle: settings.idle!, interval: settings.interval!, count: settings.count!)
        if explicit.userTimeout == nil && bound * 1000 > KeepaliveOption.userTimeout.range.upperBound {
            throw SettingsError(
                "the detection time of these values (\(formatDuration(seconds: bound))) is longer than TCP_USER_TIMEOUT can be (\(KeepaliveOption.userTimeout.range.upperBound)ms); give --user-timeout")
        }
        settings.userTimeout = explicit.userTimeout ?? bound * 1000
    case (nil, let window?):
        settings = try settingsDetecting(within: window, around: explicit)
        let detection = KeepalivePlan(settings).idleDetectionSeconds
        guard detection <= window else {
            throw SettingsError(
                "--detect-within \(formatDuration(seconds: window)) cannot hold with the explicit values: an idle connection would take \(formatDuration(seconds: detection)) (idle \(formatDuration(seconds: settings.idle!)), interval \(formatDuration(seconds: settings.interval!)), \(counted(settings.count!, "probe")), user timeout \(formatMilliseconds(settings.userTimeout!)))")
        }
        guard let userTimeout = settings.userTimeout, userTimeout > 0, userTimeout <= window * 1000 else {
            throw SettingsError(
                "--detect-within \(formatDuration(seconds: window)) cannot hold with --user-timeout \(formatMilliseconds(settings.userTimeout!)): data in flight would wait longer")
        }
    }
    try settings.checkRanges()
    return settings
}

extension KeepaliveSettings {
    /// Throws for the first value outside the kernel's range.
    public func checkRanges() throws(SettingsError) {
        for option in KeepaliveOption.allCases {
            if let value = self[keyPath: option.keyPath], !option.range.contains(value) {
                throw SettingsError("\(option.flag): \(value) is out of range; expected \(option.rangeDescription)")
            }
        }
    }
}
