/// Kernel mode as the kernel holds it: tcpkeep's programs pinned in one directory of bpffs and
/// attached to one cgroup (or, for a unit, attached by systemd at each start).
public struct KernelAttachment: Equatable, Sendable {
    public var pinDirectory: String
    /// The cgroup's path, nil when it could not be found (a unit's pins: systemd attaches them).
    public var cgroup: String?
    /// The settings in the values map; `enforce` says whether loosening setsockopt calls are rewritten.
    public var settings: KeepaliveSettings
    public var sockopsProgramID: UInt32
    public var setsockoptProgramID: UInt32
    public var mapID: UInt32
    /// Whether each program is attached to the cgroup: nil when that could not be queried.
    public var sockopsAttached: Bool?
    public var setsockoptAttached: Bool?
    /// What the programs counted since the attachment was made; nil for pins made by a tcpkeep
    /// without counters.
    public var counters: KernelCounters?
    /// The agent's attachment: each cgroup's settings come from the agent's policy (its cgroup
    /// map), and `settings` is unused.
    public var byPolicy = false

    /// The values column's text: the settings, or the agent's policy.
    public var valuesSummary: String {
        byPolicy ? "per cgroup, by tcpkeep agent's policy" : settingsSummary(settings)
    }

    public init(
        pinDirectory: String, cgroup: String?, settings: KeepaliveSettings, sockopsProgramID: UInt32,
        setsockoptProgramID: UInt32, mapID: UInt32, sockopsAttached: Bool?, setsockoptAttached: Bool?,
        counters: KernelCounters? = nil
    ) {
        self.pinDirectory = pinDirectory
        self.cgroup = cgroup
        self.settings = settings
        self.sockopsProgramID = sockopsProgramID
        self.setsockoptProgramID = setsockoptProgramID
        self.mapID = mapID
        self.sockopsAttached = sockopsAttached
        self.setsockoptAttached = setsockoptAttached
        self.counters = counters
    }
}

/// The kernel's counts for one attachment, summed over the CPUs, from the moment it was made.
public struct KernelCounters: Equatable, Sendable {
    /// Connections given keepalive when they connected.
    public var configuredActive: UInt64
    /// Accepted connections given keepalive (most inherit it from a listener configured at listen()).
    public var configuredPassive: UInt64
    /// Connections whose own keepalive was left as the program set it (no enforce).
    public var kept: UInt64
    /// setsockopt() calls rewritten by enforce.
    public var enforced: UInt64
    /// Established connections the programs configured or kept that ended with ETIMEDOUT: dead
    /// peers that keepalive, the user timeout or the retransmission limit found. nil where the
    /// kernel refused the program that counts them (before Linux 5.15).
    public var timedOut: UInt64?

    public init(configuredActive: UInt64, configuredPassive: UInt64, kept: UInt64, enforced: UInt64, timedOut: UInt64?) {
        self.configuredActive = configuredActive
        self.configuredPassive = configuredPassive
        self.kept = kept
        self.enforced = enforced
        self.timedOut = timedOut
    }
}

/// The forms `kernel status` is written in.
public enum KernelStatusFormat: String, CaseIterable, Sendable {
    case table, json

    public func render(_ attachments: [KernelAttachment]) -> String {
        switch self {
        case .table: formatKernelStatusTable(attachments)
        case .json: formatKernelStatusJSON(attachments)
        }
    }
}

private func attachedText(_ attached: Bool?) -> String {
    attached.map { $0 ? "attached" : "not attached" } ?? "unknown"
}

/// One row per attachment: cgroup, values, enforce, program ids, counters ("-" when the pins
/// have none, or for timeouts the kernel cannot count, which a line after the table says).
func formatKernelStatusTable(_ attachments: [KernelAttachment]) -> String {
    guard !attachments.isEmpty else { return "no tcpkeep kernel-mode programs are pinned under \(kernelPinRoot)\n" }
    var output = ""
    let header = ["CGROUP", "VALUES", "ENFORCE", "SOCK_OPS", "SETSOCKOPT", "CONFIGURED", "KEPT", "ENFORCED", "TIMED_OUT", "PINS"]
    appendTable(to: &output, header: header, rows: attachments.map {
        let counters = $0.counters
        let count = { (value: (KernelCounters) -> UInt64?) in counters.flatMap(value).map { "\($0)" } ?? "-" }
        return [
            $0.cgroup.map { terminalSafe($0, escapingSpaces: true) } ?? "(attached by systemd)", $0.valuesSummary, $0.byPolicy ? "per rule" : $0.settings.enforce ? "yes" : "no",
            "id \($0.sockopsProgramID) \(attachedText($0.sockopsAttached))",
            "id \($0.setsockoptProgramID) \(attachedText($0.setsockoptAttached))",
            counters.map { "\($0.configuredActive) out, \($0.configuredPassive) in" } ?? "-", count(\.kept), count(\.enforced),
            count(\.timedOut), terminalSafe($0.pinDirectory, escapingSpaces: true),
        ]
    })
    if attachments.contains(where: { $0.counters != nil && $0.counters?.timedOut == nil }) {
        output += "TIMED_OUT is - where the kernel did not take the program that counts timeouts (it needs Linux 5.15 or "
            + "later); kernel mode works there, and its other counters count.\n"
    }
    return output
}

/// `{"attachments": [...]}`: each with `cgroup` (null for a unit's pins, which systemd attaches),
/// `pin_directory`, `idle_seconds`, `interval_seconds`, `count`, `user_timeout_ms` (null when left
/// to the system), `enforce`, `sockops_program_id`, `setsockopt_program_id`, `map_id`,
/// `sockops_attached` and `setsockopt_attached` (null when unknown), and `counters` (null for
/// pins made without them): `configured_active`, `configured_passive`, `kept`, `enforced`,
/// `timed_out` (null where the kernel cannot count timeouts, before Linux 5.15); `by_policy`, true
/// for the agent's attachment, whose values are per cgroup.
func formatKernelStatusJSON(_ attachments: [KernelAttachment]) -> String {
    let objects = attachments.map(kernelAttachmentJSON)
    return "{\"attachments\": [" + objects.map { "\n  " + $0 }.joined(separator: ",") + (objects.isEmpty ? "" : "\n") + "]}\n"
}

/// One attachment as a JSON object; the fields `formatKernelStatusJSON` lists.
func kernelAttachmentJSON(_ attachment: KernelAttachment) -> String {
    let number = { (value: Int?) in value.map { "\($0)" } ?? "null" }
    let flag = { (value: Bool?) in value.map { "\($0)" } ?? "null" }
    return jsonObject([
            ("cgroup", attachment.cgroup.map(json) ?? "null"), ("pin_directory", json(attachment.pinDirectory)),
            ("idle_seconds", number(attachment.settings.idle)), ("interval_seconds", number(attachment.settings.interval)),
            ("count", number(attachment.settings.count)), ("user_timeout_ms", number(attachment.settings.userTimeout)),
            ("enforce", "\(attachment.settings.enforce)"), ("sockops_program_id", "\(attachment.sockopsProgramID)"),
            ("setsockopt_program_id", "\(attachment.setsockoptProgramID)"), ("map_id", "\(attachment.mapID)"),
            ("sockops_attached", flag(attachment.sockopsAttached)), ("setsockopt_attached", flag(attachment.setsockoptAttached)),
            ("counters", attachment.counters.map(kernelCountersJSON) ?? "null"), ("by_policy", "\(attachment.byPolicy)"),
        ])
}

private func kernelCountersJSON(_ counters: KernelCounters) -> String {
    jsonObject([
        ("configured_active", "\(counters.configuredActive)"), ("configured_passive", "\(counters.configuredPassive)"),
        ("kept", "\(counters.kept)"), ("enforced", "\(counters.enforced)"), ("timed_out", counters.timedOut.map { "\($0)" } ?? "null"),
    ])
}
