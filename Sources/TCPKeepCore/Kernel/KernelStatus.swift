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

    public init(
        pinDirectory: String, cgroup: String?, settings: KeepaliveSettings, sockopsProgramID: UInt32,
        setsockoptProgramID: UInt32, mapID: UInt32, sockopsAttached: Bool?, setsockoptAttached: Bool?
    ) {
        self.pinDirectory = pinDirectory
        self.cgroup = cgroup
        self.settings = settings
        self.sockopsProgramID = sockopsProgramID
        self.setsockoptProgramID = setsockoptProgramID
        self.mapID = mapID
        self.sockopsAttached = sockopsAttached
        self.setsockoptAttached = setsockoptAttached
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

/// One row per attachment: cgroup, values, enforce, program ids.
func formatKernelStatusTable(_ attachments: [KernelAttachment]) -> String {
    guard !attachments.isEmpty else { return "no tcpkeep kernel-mode programs are pinned under \(kernelPinRoot)\n" }
    var output = ""
    appendTable(to: &output, header: ["CGROUP", "VALUES", "ENFORCE", "SOCK_OPS", "SETSOCKOPT", "PINS"], rows: attachments.map {
        [
            $0.cgroup ?? "(attached by systemd)", settingsSummary($0.settings), $0.settings.enforce ? "yes" : "no",
            "id \($0.sockopsProgramID) \(attachedText($0.sockopsAttached))",
            "id \($0.setsockoptProgramID) \(attachedText($0.setsockoptAttached))", $0.pinDirectory,
        ]
    })
    return output
}

/// `{"attachments": [...]}`: each with `cgroup` (null for a unit's pins, which systemd attaches),
/// `pin_directory`, `idle_seconds`, `interval_seconds`, `count`, `user_timeout_ms` (null when left
/// to the system), `enforce`, `sockops_program_id`, `setsockopt_program_id`, `map_id`,
/// `sockops_attached` and `setsockopt_attached` (null when unknown).
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
        ])
}
