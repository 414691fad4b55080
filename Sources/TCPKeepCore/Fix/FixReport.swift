/// One connection `tcpkeep fix` changed, or would change with `--dry-run`.
public struct FixedConnection: Equatable, Sendable {
    /// Its /proc row before, and after (nil in a dry run, or when it closed meanwhile).
    public var before: SocketRecord
    public var after: SocketRecord?
    /// The descriptor the process holds it as.
    public var fd: Int32
    public var optionsBefore: SocketOptions?
    public var optionsAfter: SocketOptions?
    /// Why it could not be changed, when it could not.
    public var failure: String?

    public init(
        before: SocketRecord, after: SocketRecord? = nil, fd: Int32, optionsBefore: SocketOptions? = nil,
        optionsAfter: SocketOptions? = nil, failure: String? = nil
    ) {
        self.before = before
        self.after = after
        self.fd = fd
        self.optionsBefore = optionsBefore
        self.optionsAfter = optionsAfter
        self.failure = failure
    }
}

/// The options `fix` sets, in the order it sets them: `SO_KEEPALIVE` always, the values only
/// when configured.
public func fixOptionsText(_ settings: KeepaliveSettings) -> String {
    var parts: [String] = []
    if let idle = settings.idle { parts.append("TCP_KEEPIDLE \(formatDuration(seconds: idle))") }
    if let interval = settings.interval { parts.append("TCP_KEEPINTVL \(formatDuration(seconds: interval))") }
    if let count = settings.count { parts.append("TCP_KEEPCNT \(count)") }
    if let userTimeout = settings.userTimeout {
        parts.append("TCP_USER_TIMEOUT \(userTimeout == 0 ? "0 (the system default)" : formatMilliseconds(userTimeout))")
    }
    return (["SO_KEEPALIVE"] + parts).joined(separator: ", ")
}

/// Whether the settings give no keepalive value at all: `fix` then sets SO_KEEPALIVE alone,
/// and the system's timing applies.
public func setsKeepaliveAlone(_ settings: KeepaliveSettings) -> Bool {
    KeepaliveOption.allCases.allSatisfy { settings[keyPath: $0.keyPath] == nil }
}

/// Why `fix` changed nothing when no connection matched.
public func nothingToChangeText(pid: Int32, ports: [PortRange], listeners: Bool) -> String {
    let filter = ports.isEmpty ? "" : " with port \(ports.map(\.description).joined(separator: " or "))"
    let what = listeners ? "established or listening TCP sockets" : "established TCP connections"
    return "nothing to change: pid \(pid) has no \(what)\(filter)\n"
}

/// What `fix` did (or would do) to each connection: its timer and options before and after.
public func formatFixReport(pid: Int32, settings: KeepaliveSettings, fixed: [FixedConnection], dryRun: Bool) -> String {
    let changed = fixed.filter { $0.failure == nil }.count
    var output = dryRun
        ? "would set \(fixOptionsText(settings)) on \(counted(fixed.count, "connection")) of pid \(pid) (dry run: nothing changed)\n"
        : "set \(fixOptionsText(settings)) on \(changed) of \(counted(fixed.count, "connection")) of pid \(pid)\n"
    let header = dryRun
        ? ["LOCAL", "REMOTE", "FD", "TIMER", "OPTIONS"]
        : ["LOCAL", "REMOTE", "FD", "TIMER BEFORE", "TIMER AFTER", "OPTIONS BEFORE", "OPTIONS AFTER"]
    appendTable(to: &output, header: header, rows: fixed.map { connection in
        let before = [
            connection.before.local.description, connection.before.remote.description, "\(connection.fd)",
            timerText(connection.before),
        ]
        let optionsBefore = connection.optionsBefore.map(optionsText) ?? "unknown"
        if dryRun { return before + [optionsBefore] }
        let after = connection.failure.map { "failed: \($0)" } ?? (connection.optionsAfter.map(optionsText) ?? "unknown")
        return before + [connection.after.map(timerText) ?? "closed", optionsBefore, after]
    })
    return output
}
