import CTCPKeepBPF
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Why kernel mode could not do what was asked: one line, and nothing left loaded, pinned or
/// attached (the loader undoes a failed step).
public struct KernelModeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The errno of the failing call, or the one a refusal stands for (EINVAL for a target
    /// that is no cgroup v2 cgroup, ELIBACC without libbpf...).
    public let code: Int32
}

/// The cgroup v2 mount, from /proc/mounts.
func cgroupV2MountPoint() throws -> String {
    guard let mounts = try Files.readText("/proc/mounts"), let mount = cgroupV2Mount(mounts: mounts) else {
        throw KernelModeError(
            description: "no cgroup v2 hierarchy is mounted (none in /proc/mounts): kernel mode attaches to cgroup v2 only", code: ENOENT)
    }
    return mount
}

/// The cgroup directory a target names, for attaching or detaching there. Refuses a process in
/// the root cgroup: attaching there covers every process of the host, which only `--all` says.
public func cgroupDirectory(of target: KernelTarget) throws -> String {
    let mount = try cgroupV2MountPoint()
    switch target {
    case .all:
        return mount
    case .cgroup(let path):
        guard let directory = cgroupDirectory(named: path, mount: mount) else {
            throw KernelModeError(
                description: "--cgroup \(path): not a cgroup v2 cgroup: it is outside the cgroup v2 mount, \(mount) (name a directory under it, or a path relative to it)",
                code: EINVAL)
        }
        return directory
    case .pid(let pid):
        let directory = try cgroupDirectory(ofProcess: pid, mount: mount)
        guard directory != mount else {
            throw KernelModeError(
                description: "--pid \(pid): the process is in the root cgroup, so its cgroup holds every process of the host: say --all for that",
                code: EINVAL)
        }
        return directory
    case .unit(let unit):
        guard systemdIsRunning else {
            throw KernelModeError(description: "systemd is not running here, so \(unit) has no control group; name the cgroup with --cgroup", code: ENOENT)
        }
        guard let directory = try cgroupDirectory(ofUnit: unit) else {
            throw KernelModeError(
                description: "\(unit) has no control group now (it is not running); tcpkeep systemd \(unit) --kernel --write covers it from its next start",
                code: ENOENT)
        }
        return directory
    }
}

/// A unit's cgroup directory; nil when it has none now: it is not running, or systemd is not.
public func cgroupDirectory(ofUnit unit: UnitName) throws -> String? {
    guard systemdIsRunning else { return nil }
    let shown = try runSuccessfully(["systemctl", "show", "-p", "ControlGroup", "--value", unit.name])
    guard let path = shown.output.split(separator: "\n").first.map(String.init), !path.isEmpty else { return nil }
    return cgroupDirectory(ofCgroupPath: path, mount: try cgroupV2MountPoint())
}

/// The cgroup v2 directory a process is in.
private func cgroupDirectory(ofProcess pid: Int32, mount: String) throws -> String {
    try requireProcess(pid, "--pid")
    guard let text = try Files.readText("/proc/\(pid)/cgroup"), let path = ProcessCgroups(parsing: text).unified else {
        throw KernelModeError(description: "/proc/\(pid)/cgroup names no cgroup v2 path", code: ENOENT)
    }
    return cgroupDirectory(ofCgroupPath: path, mount: mount)
}

/// The loader's values for the settings: SO_KEEPALIVE always, each configured value.
func bpfValues(_ settings: KeepaliveSettings) -> tcpkeep_bpf_values {
    var values = tcpkeep_bpf_values()
    for (value, bit, field) in [
        (settings.idle, TCPKEEP_BPF_IDLE, \tcpkeep_bpf_values.idle), (settings.interval, TCPKEEP_BPF_INTERVAL, \.interval),
        (settings.count, TCPKEEP_BPF_COUNT, \.count), (settings.userTimeout, TCPKEEP_BPF_USER_TIMEOUT, \.user_timeout),
    ] {
        guard let value else { continue }
        values.configured_mask |= bit
        values[keyPath: field] = Int32(value)
    }
    values.enforce = settings.enforce ? 1 : 0
    return values
}

/// The text a C function wrote into a buffer, up to its NUL.
func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Calls a loader function with an error buffer; its message and errno on failure.
func loader(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(KernelModeError) {
    var error = [CChar](repeating: 0, count: 512)
    let (result, code) = error.withUnsafeMutableBufferPointer { buffer in
        let result = call(buffer.baseAddress!, buffer.count)
        return (result, errno)
    }
    guard result == 0 else { throw KernelModeError(description: text(of: error), code: code) }
}

/// Refuses, naming the package, when libbpf cannot be opened: every kernel-mode command needs it.
func requireLibbpf() throws(KernelModeError) {
    try loader { error, size in tcpkeep_bpf_open_libbpf(error, size) }
}

/// Refuses, with the loader's reason, what would fail: no rights, no cgroup v2, a missing or v1
/// cgroup, no bpffs, a kernel without the program types.
func preflight(cgroup: String?, pins: String) throws(KernelModeError) {
    try loader { error, size in
        let problem = tcpkeep_bpf_preflight(EmbeddedBPF.kernelMode, cgroup, pins, error, size)
        // bpffs missing at the pin root is no problem: attaching mounts it at /sys/fs/bpf.
        return problem == TCPKEEP_BPF_READY || (problem == TCPKEEP_BPF_NO_BPFFS && pins.hasPrefix("/sys/fs/bpf/")) ? 0 : -1
    }
}

private func defaultPinDirectory(_ cgroup: String) throws(KernelModeError) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
    try loader { error, size in tcpkeep_bpf_default_pin_directory(cgroup, &buffer, buffer.count, error, size) }
    return text(of: buffer)
}

/// Attaches kernel mode to the cgroup, or changes the values of tcpkeep's attachment there in
/// place; returns the attachment as the kernel then holds it.
public func attachKernelMode(to cgroup: String, settings: KeepaliveSettings) throws -> KernelAttachment {
    try requireLibbpf()
    let pins = try defaultPinDirectory(cgroup)
    try preflight(cgroup: cgroup, pins: pins)
    var values = bpfValues(settings)
    try loader { error, size in tcpkeep_bpf_attach(EmbeddedBPF.kernelMode, cgroup, pins, &values, UInt32(TCPKEEP_BPF_MOUNT_BPFFS), error, size) }
    return try kernelAttachment(pinnedIn: pins)
}

/// Detaches tcpkeep's programs from the cgroup and removes their pins, and the pin folders
/// left empty; false when tcpkeep has none there.
func detachKernelMode(from cgroup: String) throws -> Bool {
    try requireLibbpf()
    let pins = try defaultPinDirectory(cgroup)
    guard Files.isDirectory(pins) else { return false }
    try loader { error, size in tcpkeep_bpf_detach(cgroup, pins, error, size) }
    return true
}

/// `tcpkeep kernel detach`: tcpkeep's programs detached from the target's cgroup and their pins
/// removed; for a unit its pins (`tcpkeep systemd UNIT --kernel`) too, and a unit that is not
/// running has no cgroup to detach from: its pins alone go then. Says on standard output what it
/// removed, or that there was nothing to.
public func detachKernelMode(_ target: KernelTarget) throws {
    var cgroup: String?
    var unpinned = false
    if case .unit(let unit) = target {
        unpinned = try unpinKernelMode(for: unit)
        cgroup = try cgroupDirectory(ofUnit: unit)
    } else {
        cgroup = try cgroupDirectory(of: target)
    }
    let detached = try cgroup.map(detachKernelMode(from:)) ?? false
    if let cgroup, detached { Output.standardOutput.write("detached tcpkeep's programs from \(terminalSafe(cgroup))\n") }
    if case .unit(let unit) = target, unpinned { Output.standardOutput.write("removed the pins of \(unit)\n") }
    if !detached && !unpinned {
        Output.standardOutput.write("nothing to detach: tcpkeep has no programs for \(cgroup.map { terminalSafe($0) } ?? "that target")\n")
    }
}

/// Loads and pins the programs for a unit, attached to nothing: systemd attaches them at each
/// start of the unit (`BPFProgram=`). Pins already there get the new values in place.
public func pinKernelMode(for unit: UnitName, settings: KeepaliveSettings) throws -> KernelAttachment {
    try requireLibbpf()
    let pins = unitPinDirectory(unit)
    try preflight(cgroup: nil, pins: pins)
    var values = bpfValues(settings)
    try loader { error, size in tcpkeep_bpf_pin(EmbeddedBPF.kernelMode, pins, &values, UInt32(TCPKEEP_BPF_MOUNT_BPFFS), error, size) }
    return try kernelAttachment(pinnedIn: pins)
}

/// Removes a unit's pins, and the pin folders left empty; false when there are none.
public func unpinKernelMode(for unit: UnitName) throws -> Bool {
    try requireLibbpf()
    let pins = unitPinDirectory(unit)
    guard Files.isDirectory(pins) else { return false }
    try loader { error, size in tcpkeep_bpf_detach(nil, pins, error, size) }
    return true
}

/// What tcpkeep has pinned: one attachment per cgroup and one per unit, and the pin folders that
/// could not be read as one (another tool's pins, an interrupted run's), each with its reason:
/// one such folder hides no other attachment.
public struct KernelPins: Sendable {
    public var attachments: [KernelAttachment] = []
    public var unreadable: [(directory: String, problem: KernelModeError)] = []

    /// One line per unreadable folder, for a warning.
    public var unreadableSummaries: [String] {
        unreadable.map { "cannot read the pins in \($0.directory): \($0.problem)" }
    }
}

/// Every attachment tcpkeep has pinned; throws only when libbpf cannot be opened.
public func kernelPins() throws -> KernelPins {
    try requireLibbpf()
    let directories = Files.names(in: kernelPinRoot).filter { $0 != "unit" }.map { "\(kernelPinRoot)/\($0)" }
        + Files.names(in: "\(kernelPinRoot)/unit").map { "\(kernelPinRoot)/unit/\($0)" }
    var pins = KernelPins()
    for directory in directories {
        do {
            pins.attachments.append(try kernelAttachment(pinnedIn: directory))
        } catch {
            pins.unreadable.append((directory, error))
        }
    }
    return pins
}

func kernelAttachment(pinnedIn pins: String) throws(KernelModeError) -> KernelAttachment {
    var status = tcpkeep_bpf_status()
    var cgroup = [CChar](repeating: 0, count: Int(PATH_MAX))
    try loader { error, size in tcpkeep_bpf_get_status(pins, &status, &cgroup, cgroup.count, error, size) }
    let values = status.values
    let configured = { (bit: UInt32) in values.configured_mask & bit != 0 }
    let settings = KeepaliveSettings(
        idle: configured(TCPKEEP_BPF_IDLE) ? Int(values.idle) : nil,
        interval: configured(TCPKEEP_BPF_INTERVAL) ? Int(values.interval) : nil,
        count: configured(TCPKEEP_BPF_COUNT) ? Int(values.count) : nil,
        userTimeout: configured(TCPKEEP_BPF_USER_TIMEOUT) ? Int(values.user_timeout) : nil,
        enforce: values.enforce != 0)
    let path = text(of: cgroup)
    let attached = { (flag: Int32) in flag < 0 ? nil : flag == 1 }
    var attachment = KernelAttachment(
        pinDirectory: pins, cgroup: status.cgroup_id == 0 || path.isEmpty ? nil : path, settings: settings,
        sockopsProgramID: status.sockops_program_id, setsockoptProgramID: status.setsockopt_program_id, mapID: status.map_id,
        sockopsAttached: status.cgroup_id == 0 ? nil : attached(status.sockops_attached),
        setsockoptAttached: status.cgroup_id == 0 ? nil : attached(status.setsockopt_attached),
        counters: status.counters_known == 0 ? nil : KernelCounters(status.counters, timeoutsCounted: status.timeouts_counted == 1))
    attachment.byPolicy = configured(TCPKEEP_BPF_BY_CGROUP)
    return attachment
}

/// Kernel mode's counters as Prometheus counters (`formatKernelCountersPrometheus`), for the
/// audit's Prometheus output, and what could not be read, a line each; "" when nothing is pinned
/// under /sys/fs/bpf/tcpkeep. Throws when pins are there but libbpf or the cgroup v2 mount is
/// missing. The agent's attachment is left out: its counters are by policy entry, which its
/// /metrics reports.
public func kernelCountersPrometheus() throws -> (text: String, unreadable: [String]) {
    guard Files.isDirectory(kernelPinRoot) else { return ("", []) }
    let pins = try kernelPins()
    let attachments = pins.attachments.filter { $0.pinDirectory != agentPinDirectory }
    return (formatKernelCountersPrometheus(attachments, cgroupMount: try cgroupV2MountPoint()), pins.unreadableSummaries)
}

extension KernelCounters {
    init(_ counters: tcpkeep_bpf_counters, timeoutsCounted: Bool) {
        self.init(
            configuredActive: counters.configured_active, configuredPassive: counters.configured_passive, kept: counters.kept,
            enforced: counters.enforced, timedOut: timeoutsCounted ? counters.timed_out : nil)
    }
}

/// The tcpkeep attachment whose sock_ops program runs for a process's sockets (attached to its
/// cgroup or an ancestor, by tcpkeep or by systemd from a unit's pins); nil when none does.
/// Throws when that cannot be told: libbpf missing, the pins or the process's cgroup unreadable.
public func kernelAttachment(covering pid: Int32) throws -> KernelAttachment? {
    let pins = try kernelPins()
    // An unreadable folder could be the one that covers the process.
    if let (_, problem) = pins.unreadable.first { throw problem }
    let attachments = pins.attachments
    guard !attachments.isEmpty else { return nil }
    // The process's own cgroup, the root included: an attachment there (--all) covers it.
    let cgroup = try cgroupDirectory(ofProcess: pid, mount: cgroupV2MountPoint())
    for attachment in attachments {
        var runs: Int32 = 0
        try loader { error, size in tcpkeep_bpf_runs_in(cgroup, attachment.sockopsProgramID, &runs, error, size) }
        if runs == 1 { return attachment }
    }
    return nil
}
