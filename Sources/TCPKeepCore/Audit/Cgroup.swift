/// The cgroup paths in the text of /proc/PID/cgroup (`ID:CONTROLLERS:PATH` lines): the unified
/// hierarchy's (`0::PATH`) and, on a hybrid or legacy host, systemd's own (`N:name=systemd:PATH`).
public struct ProcessCgroups: Equatable, Sendable {
    public var unified: String?
    public var systemd: String?

    public init(unified: String?, systemd: String?) {
        self.unified = unified
        self.systemd = systemd
    }

    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[1] == "name=systemd" { systemd = String(parts[2]) }
            if parts[0] == "0" && parts[1].isEmpty { unified = String(parts[2]) }
        }
    }
}

/// The systemd unit a process belongs to: the innermost unit in its cgroup path
/// (`0::/system.slice/redis-server.service` is redis-server.service). The systemd hierarchy of
/// a hybrid or legacy setup is preferred to the unified one. Nil when the path names no unit,
/// as when systemd does not manage the process.
public func systemdUnit(in cgroups: ProcessCgroups) -> String? {
    guard let path = cgroups.systemd ?? cgroups.unified else { return nil }
    return path.split(separator: "/").last(where: isUnitName).map(String.init)
}

private let unitSuffixes = [".service", ".scope", ".socket", ".mount", ".swap"]

private func isUnitName(_ component: Substring) -> Bool {
    unitSuffixes.contains { component.hasSuffix($0) && component.count > $0.count }
}

/// The container a process runs in, as its cgroup path names it.
public struct ContainerIdentity: Equatable, Sendable {
    /// The runtime's container id (docker, containerd, cri-o, podman): 64 hex digits as a rule.
    public var container: String?
    /// The Kubernetes pod's UID, with dashes.
    public var pod: String?

    public init(container: String? = nil, pod: String? = nil) {
        self.container = container
        self.pod = pod
    }
}

/// The container id and Kubernetes pod UID a process's cgroups name, from the unified path or,
/// failing that, the `name=systemd` one of a hybrid or legacy host. Shapes:
///   systemd driver   `.../docker-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
///                    `libpod-<id>.scope` (podman may add `/container` below it),
///                    `kubepods-burstable-pod<uid with _>.slice`, `kubepods-pod<uid>.slice`
///   cgroupfs driver  `/docker/<id>`, `/kubepods/burstable/pod<uid>/<id>`, `/libpod_parent/libpod-<id>`
/// A runtime's monitor (`crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope`) is not the container.
public func containerIdentity(in cgroups: ProcessCgroups) -> ContainerIdentity {
    var identity = ContainerIdentity()
    for path in [cgroups.unified, cgroups.systemd].compactMap({ $0 }) {
        let found = containerIdentity(fromPath: Substring(path))
        identity.container = identity.container ?? found.container
        identity.pod = identity.pod ?? found.pod
    }
    return identity
}

private let runtimeScopePrefixes = ["docker-", "cri-containerd-", "crio-", "libpod-"]

private func containerIdentity(fromPath path: Substring) -> ContainerIdentity {
    var identity = ContainerIdentity()
    let components = path.split(separator: "/")
    let underKubepods = components.contains { $0.hasPrefix("kubepods") }
    for (index, component) in components.enumerated() {
        let name = component.hasSuffix(".scope") ? component.dropLast(".scope".count) : component
        // systemd driver: a scope named after the runtime, innermost wins.
        for prefix in runtimeScopePrefixes where name.hasPrefix(prefix) {
            let id = name.dropFirst(prefix.count)
            if isContainerID(id) { identity.container = String(id) }
        }
        // cgroupfs driver: the id is a directory of its own under docker/ or a pod's directory.
        if index > 0 && isContainerID(component) && component.count == 64 {
            let parent = components[index - 1]
            if parent == "docker" || (underKubepods && parent.hasPrefix("pod")) { identity.container = String(component) }
        }
        if let uid = podUID(component, underKubepods: underKubepods) { identity.pod = uid }
    }
    return identity
}

/// `kubepods-burstable-pod<uid_with_underscores>.slice`, `kubepods-pod<uid>.slice`, or under a
/// kubepods path `pod<uid>`.
private func podUID(_ component: Substring, underKubepods: Bool) -> String? {
    var text = component
    if text.hasPrefix("kubepods"), text.hasSuffix(".slice"),
        let last = text.dropLast(".slice".count).split(separator: "-").last, last.hasPrefix("pod") {
        // The UID's dashes are underscores here, so the last dash ends the slice's parents.
        text = last.dropFirst(3)
    } else if underKubepods, text.hasPrefix("pod") {
        text = text.dropFirst(3)
    } else {
        return nil
    }
    let uid = String(text.map { $0 == "_" ? "-" : $0 })
    // A UID is 36 characters, hex digits and four dashes.
    guard uid.count == 36, uid.allSatisfy({ $0 == "-" || $0.isHexDigit }), uid.filter({ $0 == "-" }).count == 4 else { return nil }
    return uid.lowercased()
}

private func isContainerID(_ text: Substring) -> Bool {
    text.count >= 12 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
}
