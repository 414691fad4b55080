import Yams

/// Where the container runtimes keep a container's OCI runtime spec (`config.json`) on the host,
/// by container id; the agent reads the first that exists. doc/agent.md lists them.
public func runtimeSpecPaths(containerID id: String, containerdNamespaces: [String]) -> [String] {
    [
        // podman (rootful), and CRI-O, which shares containers/storage: the graph root, then the run root.
        "/var/lib/containers/storage/overlay-containers/\(id)/userdata/config.json",
        "/run/containers/storage/overlay-containers/\(id)/userdata/config.json",
    ] + containerdNamespaces.map { "/run/containerd/io.containerd.runtime.v2.task/\($0)/\(id)/config.json" }
}

/// The folder of containerd's running tasks, one folder per namespace (k8s.io, moby, default...).
public let containerdTaskRoot = "/run/containerd/io.containerd.runtime.v2.task"

/// containers/storage's list of containers (podman, CRI-O), which holds their names.
public let containerStorageLists = [
    "/var/lib/containers/storage/overlay-containers/containers.json",
    "/run/containers/storage/overlay-containers/containers.json",
]

/// The annotations of an OCI runtime spec (`config.json`): the `annotations` object's string
/// values. JSON is read as YAML, which it is; a spec that cannot be read gives none.
public func ociAnnotations(configJSON text: String) -> [String: String] {
    guard let root = try? Yams.compose(yaml: text, .basic), case .mapping(let spec) = root,
        case .mapping(let annotations)? = spec["annotations"]
    else { return [:] }
    var result: [String: String] = [:]
    for (key, value) in annotations {
        if let key = key.string, let value = value.string { result[key] = value }
    }
    return result
}

/// The names the runtimes give a container in its annotations (Kubernetes' container name
/// under CRI-O and containerd, podman's own name annotation when present).
public func containerNames(annotations: [String: String]) -> [String] {
    ["io.kubernetes.container.name", "io.kubernetes.cri.container-name", "io.podman.annotations.name"]
        .compactMap { annotations[$0] }
}

/// A container's names from containers/storage's `containers.json` (a list of objects with
/// `id` and `names`).
public func containerNames(storageList text: String, containerID id: String) -> [String] {
    guard let root = try? Yams.compose(yaml: text, .basic), case .sequence(let containers) = root else { return [] }
    for container in containers {
        guard case .mapping(let fields) = container, fields["id"]?.string == id else { continue }
        guard case .sequence(let names)? = fields["names"] else { return [] }
        return names.compactMap(\.string)
    }
    return []
}
