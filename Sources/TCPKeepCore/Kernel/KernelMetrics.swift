/// Kernel mode's counters as Prometheus counters, one series per attachment (and direction),
/// labelled by what the attachment covers: `cgroup` (its path as the kernel names it, under the
/// cgroup v2 mount: `/system.slice/redis-server.service`), `unit` (a unit's pins, or the unit the
/// cgroup path names), and `container` and `pod` where the cgroup path names them, as the audit
/// reads them from /proc/PID/cgroup. Attachments without counters (pins of an older tcpkeep) or
/// whose cgroup is gone, unless a unit's, are left out. Nothing is written without attachments.
/// The values only grow while an attachment lives and start again from 0 when it is made anew:
/// Prometheus's `increase()` and `rate()` take such resets in their stride.
public func formatKernelCountersPrometheus(_ attachments: [KernelAttachment], cgroupMount: String) -> String {
    let series: [(labels: [(String, String)], counters: KernelCounters)] = attachments.compactMap { attachment in
        guard let counters = attachment.counters, let labels = kernelWorkloadLabels(attachment, cgroupMount: cgroupMount) else { return nil }
        return (labels, counters)
    }
    return formatCounterFamilies(prefix: "tcpkeep_kernel_", series)
}

/// The agent's kernel-mode counters, one series per policy entry (and direction), labelled
/// `entry` (`rule N`, the rule's name, or `default`), in families of their own beside the
/// attachments' (`tcpkeep_agent_connections_configured_total`...). Counters belong to an entry's
/// position in the policy: a reload that reorders the rules moves them.
public func formatAgentEntryCountersPrometheus(_ entries: [(label: String, counters: KernelCounters)]) -> String {
    formatCounterFamilies(prefix: "tcpkeep_agent_", entries.map { ([("entry", $0.label)], $0.counters) })
}

/// Kernel mode's four counter families for `series`, named `prefix` + the counter; nothing for none.
private func formatCounterFamilies(prefix: String, _ series: [(labels: [(String, String)], counters: KernelCounters)]) -> String {
    guard !series.isEmpty else { return "" }
    var output = ""
    let families: [(name: String, help: String, values: (KernelCounters) -> [(direction: String?, value: UInt64?)])] = [
        ("connections_configured_total",
         "TCP connections kernel mode gave keepalive, by direction (active: connect, passive: accept).",
         { [("active", $0.configuredActive), ("passive", $0.configuredPassive)] }),
        ("connections_kept_total",
         "TCP connections kernel mode left with the keepalive their program had set itself (no enforce).", { [(nil, $0.kept)] }),
        ("setsockopt_enforced_total",
         "setsockopt() calls that would have loosened keepalive, rewritten by kernel mode's enforce.", { [(nil, $0.enforced)] }),
        ("connections_timed_out_total",
         "Established TCP connections kernel mode configured or kept that ended with ETIMEDOUT: dead peers found by keepalive, the user timeout or retransmissions (absent where the kernel cannot count them).",
         { [(nil, $0.timedOut)] }),
    ]
    for family in families {
        let name = prefix + family.name
        output += "# HELP \(name) \(family.help)\n# TYPE \(name) counter\n"
        for (labels, counters) in series {
            for case let (direction, value?) in family.values(counters) {
                output += "\(name)\(prometheusLabels(labels + (direction.map { [("direction", $0)] } ?? []))) \(value)\n"
            }
        }
    }
    return output
}

/// cgroup, unit, container and pod of an attachment; nil when it covers nothing that can be named.
private func kernelWorkloadLabels(_ attachment: KernelAttachment, cgroupMount: String) -> [(String, String)]? {
    let pinnedUnit = unitName(ofPinDirectory: attachment.pinDirectory)
    guard let cgroup = attachment.cgroup.map({ kernelCgroupPath($0, mount: cgroupMount) }) ?? (pinnedUnit != nil ? "" : nil) else {
        return nil
    }
    let cgroups = ProcessCgroups(unified: cgroup, systemd: nil)
    let identity = containerIdentity(in: cgroups)
    return [
        ("cgroup", cgroup), ("unit", pinnedUnit ?? systemdUnit(in: cgroups) ?? ""), ("container", identity.container ?? ""),
        ("pod", identity.pod ?? ""),
    ]
}

/// A cgroup directory's path as the kernel names it (/proc/PID/cgroup): under the mount, from "/".
func kernelCgroupPath(_ directory: String, mount: String) -> String {
    if directory == mount { return "/" }
    return directory.hasPrefix(mount + "/") ? String(directory.dropFirst(mount.count)) : directory
}
