/// The agent's policy: rules in order, each a selector and the settings its workloads get; the
/// first rule that matches a cgroup wins, and `default` covers what no rule matches (without
/// it, such cgroups are left alone). doc/agent.md documents the file's schema.
public struct AgentPolicy: Equatable, Sendable {
    /// Where the metrics endpoint listens; nil for the agent's default (`--listen` overrides).
    public var listen: ListenAddress?
    /// The cgroup the agent attaches to and watches, below the cgroup v2 mount; "" (the
    /// default) is the root: every workload on the host.
    public var root = ""
    public var rules: [PolicyRule]
    public var fallback: KeepaliveSettings?

    public init(listen: ListenAddress? = nil, rules: [PolicyRule], fallback: KeepaliveSettings? = nil) {
        self.listen = listen
        self.rules = rules
        self.fallback = fallback
    }

    /// The entry a workload falls under: its first matching rule, else the default; nil when
    /// neither applies.
    public func entry(for workload: Workload) -> PolicyEntry? {
        if let index = rules.firstIndex(where: { $0.selector.matches(workload) }) { return .rule(index) }
        return fallback == nil ? nil : .fallback
    }

    /// The settings of an entry of this policy.
    public func settings(of entry: PolicyEntry) -> KeepaliveSettings? {
        switch entry {
        case .rule(let index): rules.indices.contains(index) ? rules[index].settings : nil
        case .fallback: fallback
        }
    }

    /// Whether any entry enforces: only then is the setsockopt program attached, since it runs
    /// at every setsockopt() of every process under the root.
    public var enforces: Bool {
        entries.contains { settings(of: $0)?.enforce == true }
    }

    /// Every entry, in order: the rules, then the default if there is one.
    public var entries: [PolicyEntry] {
        rules.indices.map(PolicyEntry.rule) + (fallback == nil ? [] : [.fallback])
    }

    /// Why the rules before the one a workload falls under (all of them, when none matches)
    /// could not judge it: the facts the node lacks, one line per rule, for the log.
    public func missingFacts(for workload: Workload) -> [String] {
        let tried = entry(for: workload).flatMap { if case .rule(let index) = $0 { index } else { nil } } ?? rules.count
        return rules.indices.prefix(tried).compactMap { index in
            rules[index].selector.missingFact(workload).map { "\(label(of: .rule(index))): \($0)" }
        }
    }

    /// How an entry is named in logs and metric labels: the rule's `name`, else `rule N` (from 1).
    public func label(of entry: PolicyEntry) -> String {
        switch entry {
        case .rule(let index): rules.indices.contains(index) ? rules[index].name ?? "rule \(index + 1)" : "rule \(index + 1)"
        case .fallback: "default"
        }
    }
}

/// A rule of the policy, or its default.
public enum PolicyEntry: Hashable, Sendable {
    case rule(Int)
    case fallback
}

public struct PolicyRule: Equatable, Sendable {
    public var name: String?
    public var selector: WorkloadSelector
    public var settings: KeepaliveSettings

    public init(name: String? = nil, selector: WorkloadSelector, settings: KeepaliveSettings) {
        self.name = name
        self.selector = selector
        self.settings = settings
    }
}

/// What a rule's `match:` names. Each covers a cgroup and every cgroup under it.
public enum WorkloadSelector: Equatable, Sendable {
    /// A glob on the path below the cgroup v2 mount.
    case cgroup(PathGlob)
    /// A glob on a systemd unit's name (a `.service`, `.scope`, `.slice`... in the path).
    case unit(PathGlob)
    /// A container's runtime id, or the start of it, or the start of one of its names.
    case container(String)
    /// A key of the container's OCI runtime spec annotations, with its value when given (a
    /// Kubernetes pod's annotations are there, as doc/kubernetes.md describes).
    case annotation(key: String, value: String?)
    /// A glob on the Kubernetes namespace of the container's pod.
    case namespace(PathGlob)
    /// A glob on the name of the container's Kubernetes pod.
    case pod(PathGlob)

    public func matches(_ workload: Workload) -> Bool {
        switch self {
        case .cgroup(let glob):
            return glob.matchesPathOrAncestor(workload.path)
        case .unit(let glob):
            return workload.path.contains { isSystemdUnitName($0) && glob.matches([$0][...]) }
        case .container(let prefix):
            guard let container = workload.container else { return false }
            return container.id.hasPrefix(prefix) || container.names.contains { $0.hasPrefix(prefix) }
        case .annotation(let key, let value):
            guard let found = workload.container?.annotations[key] else { return false }
            return value == nil || found == value
        case .namespace(let glob):
            return workload.pod?.namespace.map { glob.matches([Substring($0)]) } ?? false
        case .pod(let glob):
            return workload.pod?.name.map { glob.matches([Substring($0)]) } ?? false
        }
    }

    /// Why this selector cannot judge a container, when the node lacks the fact it needs (it
    /// then does not match); nil when it can, or when the cgroup is no container's.
    public func missingFact(_ workload: Workload) -> String? {
        guard let container = workload.container else { return nil }
        switch self {
        case .namespace where workload.pod?.namespace == nil:
            return "the container's runtime spec names no pod namespace (io.kubernetes.pod.namespace or io.kubernetes.cri.sandbox-namespace)"
        case .pod where workload.pod?.name == nil:
            return "the container's runtime spec names no pod (io.kubernetes.pod.name or io.kubernetes.cri.sandbox-name)"
        case .annotation(let key, _) where container.annotations[key] == nil && KubernetesPod.isContainerd(container.annotations):
            return "containerd's spec has no '\(key)': containerd passes a pod annotation only when its pod_annotations setting lists it"
        default:
            return nil
        }
    }
}

/// A cgroup as the policy sees it: its path below the cgroup v2 mount, the container it is
/// (or is inside) as the runtime's state on the host describes it, and that container's
/// Kubernetes pod as far as the node knows it.
public struct Workload: Equatable, Sendable {
    public var path: [Substring]
    public var container: ContainerState?
    public var pod: KubernetesPod?

    public init(path: String, container: ContainerState? = nil) {
        self.path = path.split(separator: "/")
        self.container = container
        pod = container.flatMap { KubernetesPod(annotations: $0.annotations, cgroupPath: self.path) }
    }
}

/// A container as its runtime keeps it on the host.
public struct ContainerState: Equatable, Sendable {
    public var id: String
    public var names: [String]
    public var annotations: [String: String]

    public init(id: String, names: [String] = [], annotations: [String: String] = [:]) {
        self.id = id
        self.names = names
        self.annotations = annotations
    }
}

private let systemdUnitSuffixes = [".service", ".scope", ".slice", ".socket", ".mount", ".swap"]

/// A path component that names a systemd unit.
func isSystemdUnitName(_ component: Substring) -> Bool {
    systemdUnitSuffixes.contains { component.hasSuffix($0) && component.count > $0.count }
}

/// The runtime's container id a cgroup path names (see `containerIdentity(in:)` for the
/// shapes); nil when it is no container's.
public func containerID(ofCgroupPath path: String) -> String? {
    containerIdentity(in: ProcessCgroups(unified: "/\(path)", systemd: nil)).container
}

/// An address and port to listen on: an IPv4 or bracketed IPv6 literal, never a name.
public struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Loopback, on a port outside Prometheus's default port allocations for exporters
    /// (9100-9999 and on past 10000; doc/agent.md says why this one).
    public static let standard = ListenAddress(host: "127.0.0.1", port: 24245)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:24245`, `[::1]:24245`, `0.0.0.0:24245`.
    public init(parsing text: String) throws(SettingsError) {
        let hostPart: Substring, portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw SettingsError("'\(text)': expected [IPv6]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
            guard !hostPart.isEmpty, hostPart.contains(":"),
                hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else { throw SettingsError("'\(text)': not an IPv6 address in brackets") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw SettingsError("'\(text)': expected ADDRESS:PORT, e.g. 127.0.0.1:24245") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            let octets = hostPart.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4, octets.allSatisfy({ parseWholeNumber(String($0)).map { $0 <= 255 } ?? false && $0.count <= 3 }) else {
                throw SettingsError("'\(text)': the address is not an IPv4 address (a name is not resolved; IPv6 goes in brackets)")
            }
        }
        guard let port = parseWholeNumber(String(portPart)), (0...65535).contains(port) else {
            throw SettingsError("'\(text)': the port must be 0 (any free port, which the log names) to 65535")
        }
        self.init(host: String(hostPart), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this host can connect.
    public var isLoopback: Bool { host.hasPrefix("127.") || host == "::1" }
}
