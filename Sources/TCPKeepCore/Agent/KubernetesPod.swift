/// What a node knows of the Kubernetes pod a container belongs to, without asking the API
/// server: the runtime's OCI spec annotations (namespace, name, container name) and the kubelet's
/// cgroup (UID, QoS class). Each fact is nil where the node lacks it; doc/kubernetes.md says
/// which runtime records which.
public struct KubernetesPod: Equatable, Sendable {
    public var namespace: String?
    public var name: String?
    public var uid: String?
    /// `guaranteed`, `burstable` or `besteffort`, from the kubelet's cgroup.
    public var qos: String?
    /// The container's name in the pod spec.
    public var container: String?

    public init(namespace: String? = nil, name: String? = nil, uid: String? = nil, qos: String? = nil, container: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.qos = qos
        self.container = container
    }

    /// The facts a container's spec annotations and cgroup path hold: CRI-O's
    /// `io.kubernetes.pod.*` or containerd's `io.kubernetes.cri.sandbox-*`, then the kubelet's
    /// `kubepods` cgroup. Nil when neither names a pod.
    public init?(annotations: [String: String], cgroupPath path: [Substring]) {
        func first(_ keys: String...) -> String? { keys.lazy.compactMap { annotations[$0] }.first }
        let cgroup = kubeletCgroup(path)
        self.init(
            namespace: first("io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"),
            name: first("io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"),
            uid: cgroup?.uid ?? first("io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"),
            qos: cgroup?.qos,
            container: first("io.kubernetes.container.name", "io.kubernetes.cri.container-name"))
        if self == KubernetesPod() { return nil }
    }

    /// Whether containerd made the spec: it passes a pod's annotations only when its CRI
    /// config's `pod_annotations` lists them.
    static func isContainerd(_ annotations: [String: String]) -> Bool {
        annotations.keys.contains { $0.hasPrefix("io.kubernetes.cri.") }
    }
}

/// The pod UID and QoS class of a kubelet cgroup path: `kubepods/burstable/pod<uid>/...`
/// (cgroupfs driver) or `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid
/// with _>.slice/...` (systemd driver); a pod directly under `kubepods` is `guaranteed`.
func kubeletCgroup(_ path: [Substring]) -> (uid: String, qos: String)? {
    guard let top = path.firstIndex(where: { $0 == "kubepods" || $0 == "kubepods.slice" }) else { return nil }
    for end in (top + 1)..<path.count {
        let levels = path[...end]
        guard let uid = containerIdentity(in: ProcessCgroups(unified: "/" + levels.joined(separator: "/"), systemd: nil)).pod else { continue }
        let qos = ["burstable", "besteffort"].first { qos in
            levels.dropFirst(top + 1).contains { $0 == qos || $0.hasPrefix("kubepods-\(qos)") }
        }
        return (uid, qos ?? "guaranteed")
    }
    return nil
}

/// How the agent's metrics name a container: its Kubernetes namespace, pod and container name
/// where the node knows them, else the runtime's name for it; a few series per workload,
/// however often its containers are replaced.
public struct ContainerLabels: Equatable, Sendable {
    public var namespace: String?
    public var pod: String?
    public var container: String?

    public init(namespace: String? = nil, pod: String? = nil, container: String? = nil) {
        self.namespace = namespace
        self.pod = pod
        self.container = container
    }

    public init(_ workload: Workload) {
        self.init(
            namespace: workload.pod?.namespace, pod: workload.pod?.name ?? workload.pod?.uid,
            container: workload.pod?.container ?? workload.container?.names.first)
    }
}
