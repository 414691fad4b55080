/// The verdict on one connection: would it notice a peer that vanished?
public enum KeepaliveStatus: String, CaseIterable, Sendable {
    /// The keepalive timer is pending, no probe unanswered (and within --max-idle).
    case ok
    /// No timer pending: keepalive is off, so a silent peer is never noticed.
    case missing
    /// Keepalive is on, but later than --max-idle allows.
    case tooSlow = "too-slow"
    /// Probes are going unanswered right now: the peer may be dead.
    case probing
    /// A retransmit or zero-window timer hides the keepalive timer, or the state has none.
    case unknown

    /// The statuses `--check` fails on.
    public var isFailure: Bool { self == .missing || self == .tooSlow }
}

/// A socket's keepalive options as the socket itself reports them (`audit --exact`).
public struct SocketOptions: Hashable, Sendable {
    public var keepalive: Bool
    public var idle: Int
    public var interval: Int
    public var count: Int
    /// Milliseconds; 0 is the system default.
    public var userTimeout: Int

    public init(keepalive: Bool, idle: Int, interval: Int, count: Int, userTimeout: Int) {
        self.keepalive = keepalive
        self.idle = idle
        self.interval = interval
        self.count = count
        self.userTimeout = userTimeout
    }
}

/// Classifies a socket from its /proc row and, when they could be read, its real options.
/// `maxIdle` in seconds: without the options it bounds the time left on the keepalive timer,
/// which is at most the idle time; with them it bounds the idle time itself.
public func classify(_ record: SocketRecord, options: SocketOptions?, maxIdle: Int?) -> KeepaliveStatus {
    // Only these states keep a plain keepalive timer; in FIN_WAIT2 the same timer means
    // something else, and LISTEN shows none even with SO_KEEPALIVE set.
    let timerMeansKeepalive = record.state == .established || record.state == .closeWait
    if timerMeansKeepalive && record.timer == .keepalive && record.probes > 0 { return .probing }
    if let options {
        guard options.keepalive else { return .missing }
        if let maxIdle, options.idle > maxIdle { return .tooSlow }
        return .ok
    }
    guard timerMeansKeepalive else { return .unknown }
    switch record.timer {
    case .none:
        return .missing
    case .keepalive:
        if let maxIdle, record.timerSeconds > Double(maxIdle) { return .tooSlow }
        return .ok
    default:
        return .unknown
    }
}
