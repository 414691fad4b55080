import CTCPKeepBPF
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the agent pins kernel mode's programs and maps: one attachment for the host.
public let agentPinDirectory = "\(kernelPinRoot)/agent"

/// The agent's attachment: kernel mode's programs attached once, at the policy's root, in the
/// mode where each socket's settings come from the cgroup map. Made when there are no pins;
/// adopted when a previous agent left them (attached again only if someone detached them).
/// Its descriptors do not change once open, and each call is one system call: it may be used
/// from any thread.
public final class AgentKernelMap: CgroupSettingsMap, @unchecked Sendable {
    private let cgroups: Int32
    private let counters: Int32
    /// Whether the kernel took the program that counts timeouts (Linux 5.15 and later).
    private let timeoutsCounted: Bool

    private let root: String
    /// The root cgroup's directory, locked (flock) while this agent runs: a second agent would
    /// adopt the same pins and fight over the map.
    private let lock: Int32

    /// Attaches, or adopts the pins; refuses as kernel mode does (rights, cgroup v2, bpffs,
    /// libbpf), or when the pins belong to another root. The setsockopt program is attached
    /// while `enforcing`.
    public init(root cgroup: String, enforcing: Bool) throws {
        try requireLibbpf()
        try preflight(cgroup: cgroup, pins: agentPinDirectory)
        lock = try checked(open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "cannot open \(cgroup)")
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(lock)
            if code == EWOULDBLOCK { throw AgentError("another tcpkeep agent runs with \(loggable(cgroup)) as its root: stop it first") }
            throw SystemError("cannot lock \(cgroup)", code: code)
        }
        root = cgroup
        do {
            try Self.attach(cgroup, enforcing: enforcing)
        } catch {
            close(lock)
            throw error
        }
        var cgroups: Int32 = -1, counters: Int32 = -1
        var status = tcpkeep_bpf_status()
        do {
            try loader { error, size in tcpkeep_bpf_get_status(agentPinDirectory, &status, nil, 0, error, size) }
            try loader { error, size in tcpkeep_bpf_open_cgroup_maps(agentPinDirectory, &cgroups, &counters, error, size) }
        } catch {
            close(lock)
            throw error
        }
        self.cgroups = cgroups
        self.counters = counters
        timeoutsCounted = status.timeouts_counted == 1
    }

    /// tcpkeep_bpf_attach in the agent's mode: a first attachment, or the pins adopted (attached
    /// again if someone detached them), the setsockopt program attached or detached as asked.
    private static func attach(_ cgroup: String, enforcing: Bool) throws(KernelModeError) {
        var values = tcpkeep_bpf_values()
        values.configured_mask = TCPKEEP_BPF_BY_CGROUP
        values.enforce = enforcing ? 1 : 0
        try loader { error, size in
            tcpkeep_bpf_attach(EmbeddedBPF.kernelMode, cgroup, agentPinDirectory, &values, UInt32(TCPKEEP_BPF_MOUNT_BPFFS), error, size)
        }
    }

    public func setEnforcing(_ enforcing: Bool) throws {
        try Self.attach(root, enforcing: enforcing)
    }

    deinit {
        close(cgroups)
        close(counters)
        close(lock)
    }

    public func ids() throws -> Set<UInt64> {
        var ids = Set<UInt64>()
        var previous: UInt64? = nil
        while true {
            var next: UInt64 = 0
            let result = withUnsafePointer(to: previous ?? 0) { pointer in
                tcpkeep_bpf_next_cgroup(cgroups, previous == nil ? nil : pointer, &next)
            }
            if result != 0 {
                if errno == ENOENT { return ids }
                let code = errno
                throw SystemError("cannot list the agent's cgroup map", code: code)
            }
            ids.insert(next)
            previous = next
        }
    }

    public func set(_ id: UInt64, _ settings: KeepaliveSettings, entry: UInt32) throws {
        var values = bpfValues(settings)
        try checked(tcpkeep_bpf_set_cgroup_settings(cgroups, id, &values, Self.slot(of: entry)), "cannot write cgroup \(id)'s settings into the agent's map")
    }

    public func remove(_ id: UInt64) throws {
        try checked(tcpkeep_bpf_remove_cgroup_settings(cgroups, id), "cannot remove cgroup \(id) from the agent's map")
    }

    /// The counters slot of a policy entry: slot 0 counts what no entry covers.
    static func slot(of entry: UInt32) -> UInt32 {
        min(entry + 1, UInt32(TCPKEEP_BPF_COUNTER_SLOTS) - 1)
    }

    /// What the programs counted for the first `entries` policy entries, by entry number; an
    /// entry whose counters cannot be read counts nothing.
    public func counters(entries: Int) -> [KernelCounters] {
        (0..<entries).map { entry in
            var sum = tcpkeep_bpf_counters()
            guard tcpkeep_bpf_read_slot_counters(counters, Self.slot(of: UInt32(entry)), &sum) == 0 else {
                return KernelCounters(configuredActive: 0, configuredPassive: 0, kept: 0, enforced: 0, timedOut: timeoutsCounted ? 0 : nil)
            }
            return KernelCounters(sum, timeoutsCounted: timeoutsCounted)
        }
    }
}

/// Detaches the agent's programs and removes its maps and pins; what was removed, empty when
/// there was nothing.
public func uninstallAgent() throws -> [String] {
    guard Files.isDirectory(agentPinDirectory) else { return [] }
    try requireLibbpf()
    let attachment = try kernelAttachment(pinnedIn: agentPinDirectory)
    try loader { error, size in tcpkeep_bpf_detach(attachment.cgroup, agentPinDirectory, error, size) }
    var removed = ["the agent's pins in \(agentPinDirectory)"]
    if let cgroup = attachment.cgroup, attachment.sockopsAttached == true {
        removed.insert("the agent's programs attached to \(cgroup)", at: 0)
    }
    return removed
}
