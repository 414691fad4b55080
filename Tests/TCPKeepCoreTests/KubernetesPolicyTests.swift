import TCPKeepCore
import Testing

/// Pods as the policy's unit: the facts a node has of a container's pod (its runtime's spec
/// annotations, the kubelet's cgroup), the `namespace:` and `pod:` selectors, the line that says
/// why a rule could not judge a container, and the names the agent's metrics give it.
@Suite("Kubernetes policy")
struct KubernetesPolicyTests {
    static let id = String(repeating: "c", count: 64)
    static let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    static let policy = """
        rules:
          - match: {namespace: "kube-*"}
            profile: lan
          - name: checkout
            match: {pod: "checkout-*"}
            idle: 20s
          - match: {annotation: "tcpkeep.io/profile=datacenter"}
            profile: datacenter
        default: {detect-within: 5m}
        """

    /// CRI-O's spec: the pod's annotations beside io.kubernetes.pod.*; systemd driver's cgroup.
    static func crio(namespace: String, pod: String, annotations: [String: String] = [:]) -> Workload {
        let spec = annotations.merging([
            "io.kubernetes.pod.namespace": namespace, "io.kubernetes.pod.name": pod, "io.kubernetes.container.name": "app",
        ]) { $1 }
        let slice = "kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
        return Workload(
            path: "kubepods.slice/kubepods-burstable.slice/\(slice)/crio-\(id).scope",
            container: ContainerState(id: id, annotations: spec))
    }

    /// containerd's spec: io.kubernetes.cri.sandbox-*, pod annotations only as pod_annotations
    /// allows; cgroupfs driver's cgroup.
    static func containerd(annotations: [String: String] = [:], qos: String? = nil) -> Workload {
        let spec = annotations.merging([
            "io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.sandbox-name": "cart-7d9f",
            "io.kubernetes.cri.container-name": "cart", "io.kubernetes.cri.container-type": "container",
        ]) { $1 }
        let path = ["kubepods"] + (qos.map { [$0] } ?? []) + ["pod\(uid)", id]
        return Workload(path: path.joined(separator: "/"), container: ContainerState(id: id, annotations: spec))
    }

    @Test("a pod's facts: namespace and name from CRI-O's or containerd's annotations, UID and QoS from the kubelet's cgroup (either driver)")
    func facts() {
        #expect(Self.crio(namespace: "shop", pod: "web-1").pod == KubernetesPod(namespace: "shop", name: "web-1", uid: Self.uid, qos: "burstable", container: "app"))
        #expect(Self.containerd(qos: "besteffort").pod == KubernetesPod(namespace: "shop", name: "cart-7d9f", uid: Self.uid, qos: "besteffort", container: "cart"))
        #expect(Self.containerd().pod?.qos == "guaranteed")
        let guaranteedSlice = Workload(
            path: "kubepods.slice/kubepods-pod\(Self.uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(Self.id).scope",
            container: ContainerState(id: Self.id))
        #expect(guaranteedSlice.pod == KubernetesPod(uid: Self.uid, qos: "guaranteed"))
        // podman kube play: the pod's annotations in the spec, but no namespace, name or kubelet cgroup.
        let podman = Workload(path: "libpod_parent/\(String(repeating: "9", count: 64))/libpod-\(Self.id)",
            container: ContainerState(id: Self.id, names: ["web-app"], annotations: ["tcpkeep.io/profile": "datacenter"]))
        #expect(podman.pod == nil)
        #expect(Workload(path: "system.slice/redis.service").pod == nil)
    }

    @Test("namespace: and pod: globs, and pod annotations, each judged on the node's facts alone; first match wins")
    func selectors() throws {
        let policy = try parsePolicy(Self.policy)
        #expect(policy.rules[0].selector == .namespace(try PathGlob("kube-*")))
        #expect(policy.entry(for: Self.crio(namespace: "kube-system", pod: "coredns-1")) == .rule(0))
        #expect(policy.entry(for: Self.crio(namespace: "shop", pod: "checkout-5b7c")) == .rule(1))
        #expect(policy.entry(for: Self.crio(namespace: "shop", pod: "web-1", annotations: ["tcpkeep.io/profile": "datacenter"])) == .rule(2))
        #expect(policy.entry(for: Self.crio(namespace: "shop", pod: "web-1")) == .fallback)
        #expect(policy.entry(for: Self.containerd(annotations: ["tcpkeep.io/profile": "datacenter"])) == .rule(2))
        // A cgroup above the container (the pod's own) has no spec: only the default.
        #expect(policy.entry(for: Workload(path: "kubepods/pod\(Self.uid)")) == .fallback)
    }

    @Test("a rule needing a fact the node lacks does not match, and says why: no namespace, no pod name, an annotation containerd did not pass")
    func missingFacts() throws {
        let policy = try parsePolicy(Self.policy)
        let podman = Workload(path: "libpod_parent/libpod-\(Self.id)", container: ContainerState(id: Self.id, annotations: ["tcpkeep.io/profile": "datacenter"]))
        #expect(policy.entry(for: podman) == .rule(2))
        let lines = policy.missingFacts(for: podman)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("rule 1: the container's runtime spec names no pod namespace") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("checkout: the container's runtime spec names no pod (") == true, "\(lines)")
        let containerd = policy.missingFacts(for: Self.containerd())
        #expect(containerd == ["rule 3: containerd's spec has no 'tcpkeep.io/profile': containerd passes a pod annotation only when its pod_annotations setting lists it"])
        // CRI-O passes every pod annotation: a missing one is simply not set. Nor is a cgroup without a container short of any fact.
        #expect(policy.missingFacts(for: Self.crio(namespace: "shop", pod: "web-1")).isEmpty)
        #expect(policy.missingFacts(for: Workload(path: "system.slice/x.service")).isEmpty)
    }

    @Test("namespace: and pod: refusals: a '/', an empty glob", arguments: [
        ("rules:\n  - match: {namespace: \"a/b\"}\n", "a Kubernetes namespace name holds no '/'"),
        ("rules:\n  - match: {pod: \"\"}\n", "an empty glob"),
        ("rules:\n  - match: {pods: x}\n", "expected one of: cgroup, unit, container, annotation, namespace, pod"),
    ])
    func refusals(text: String, message: String) {
        #expect {
            try parsePolicy(text)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test("the agent's metrics name a container by namespace, pod and container where known, else by the runtime's name")
    func metricLabels() {
        #expect(ContainerLabels(Self.crio(namespace: "shop", pod: "web-1")) == ContainerLabels(namespace: "shop", pod: "web-1", container: "app"))
        let podman = Workload(path: "libpod_parent/libpod-\(Self.id)", container: ContainerState(id: Self.id, names: ["web-app"]))
        #expect(ContainerLabels(podman) == ContainerLabels(container: "web-app"))
        let uidOnly = Workload(path: "kubepods/pod\(Self.uid)/\(Self.id)", container: ContainerState(id: Self.id))
        #expect(ContainerLabels(uidOnly) == ContainerLabels(pod: Self.uid))
    }

    @Test("the audit's Prometheus families in the agent: a namespace label, the pod and container by name; the ids where no name is known")
    func prometheusLabels() {
        func connection(container: String, pod: String?) -> AuditedConnection {
            let owner = SocketOwner(pid: pod == nil ? 8 : 7, process: ForeignText(bytes: Array("probe".utf8)), executable: nil, unit: nil, container: container, pod: pod)
            return AuditedConnection(record: ClassificationTests.base, owner: owner, options: nil, status: .missing)
        }
        let named = connection(container: Self.id, pod: Self.uid)
        let unnamed = connection(container: String(repeating: "d", count: 64), pod: nil)
        var writer = AuditPrometheusWriter(containers: [Self.id: ContainerLabels(namespace: "shop", pod: "web-1", container: "app")])
        var text = ""
        writer.add(named, to: &text)
        writer.add(unnamed, to: &text)
        writer.finish(AuditSummary(), to: &text)
        #expect(text.contains(#"tcpkeep_connections{process="probe",unit="",namespace="shop",container="app",pod="web-1",status="missing"} 1"#), "\(text)")
        #expect(text.contains(#"tcpkeep_connections{process="probe",unit="",namespace="",container="\#(String(repeating: "d", count: 64))",pod="",status="missing"} 1"#), "\(text)")
        // Names from a runtime's spec are text from other processes: escaped, on one line.
        var hostile = AuditPrometheusWriter(containers: [Self.id: ContainerLabels(namespace: "a\n\u{1b}[2J", pod: "p\"", container: "c")])
        var hostileText = ""
        hostile.add(named, to: &hostileText)
        hostile.finish(AuditSummary(), to: &hostileText)
        #expect(hostileText.contains(#"namespace="a\n\\x1b[2J",container="c",pod="p\""#), "\(hostileText)")
        #expect(!hostileText.contains("\u{1b}"))
        var plain = AuditPrometheusWriter()
        var plainText = ""
        plain.add(named, to: &plainText)
        plain.finish(AuditSummary(), to: &plainText)
        #expect(plainText.contains(#"tcpkeep_connections{process="probe",unit="",container="\#(Self.id)",pod="\#(Self.uid)",status="missing"} 1"#), "\(plainText)")
    }
}
