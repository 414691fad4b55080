/// The agent's own health, as the metrics endpoint reports it.
public struct AgentHealth: Equatable, Sendable {
    /// Whether the policy file as it is now was accepted (0 after a refused reload).
    public var policyValid = true
    public var reloads = 0
    public var reloadFailures = 0
    /// Cgroups the watcher knows of, and how many of them each policy entry covers.
    public var cgroupsTracked = 0
    public var cgroupsByEntry: [(label: String, count: Int)] = []
    /// Entries in the kernel's settings map.
    public var mapEntries = 0
    /// Seconds the previous scrape took to render.
    public var lastScrapeSeconds = 0.0

    public init() {}

    public static func == (a: AgentHealth, b: AgentHealth) -> Bool {
        a.policyValid == b.policyValid && a.reloads == b.reloads && a.reloadFailures == b.reloadFailures
            && a.cgroupsTracked == b.cgroupsTracked && a.mapEntries == b.mapEntries && a.lastScrapeSeconds == b.lastScrapeSeconds
            && a.cgroupsByEntry.map(\.label) == b.cgroupsByEntry.map(\.label) && a.cgroupsByEntry.map(\.count) == b.cgroupsByEntry.map(\.count)
    }
}

/// The agent's families in Prometheus's text format. Series are bounded by the policy's entries.
public func formatAgentMetrics(_ health: AgentHealth, auditSucceeded: Bool) -> String {
    var text = ""
    func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples { text += "\(name)\(sample.labels) \(sample.value)\n" }
    }
    family("tcpkeep_agent_policy_valid", "gauge", "1 when the policy file was accepted, 0 when its last reload was refused (the previous policy stays).", [("", health.policyValid ? "1" : "0")])
    family("tcpkeep_agent_reloads_total", "counter", "Policy reloads attempted (SIGHUP or a change of the file).", [("", String(health.reloads))])
    family("tcpkeep_agent_reload_failures_total", "counter", "Policy reloads refused.", [("", String(health.reloadFailures))])
    family("tcpkeep_agent_cgroups_tracked", "gauge", "Cgroups the agent watches.", [("", String(health.cgroupsTracked))])
    family("tcpkeep_agent_cgroups", "gauge", "Cgroups by the policy entry they fall under.",
        health.cgroupsByEntry.map { ("{entry=\"\(backslashEscaped($0.label))\"}", String($0.count)) })
    family("tcpkeep_agent_map_entries", "gauge", "Entries in the kernel's settings map (one per covered cgroup).", [("", String(health.mapEntries))])
    family("tcpkeep_agent_audit_success", "gauge", "1 when this scrape's audit of the host's connections ran whole, 0 when it failed or left kernel mode's counters out (the log says why).", [("", auditSucceeded ? "1" : "0")])
    family("tcpkeep_agent_last_scrape_duration_seconds", "gauge", "Seconds the previous scrape of this endpoint took to render.", [("", String(health.lastScrapeSeconds))])
    return text
}

/// Text from elsewhere (a cgroup's name, a file's content) made safe for one log line: control
/// characters, the line separators and invisible format characters written as escapes.
public func loggable(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0..<0x20, 0x7f, 0x80..<0xa0, 0x2028, 0x2029, 0x200b...0x200f, 0x202a...0x202e, 0x2066...0x2069, 0xfeff:
            result += scalar.escaped(asASCII: true)
        case 0x5c:
            result += "\\\\"
        default:
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}
