import TCPKeepCore

/// Reads a container's state as its runtime keeps it on the host: the OCI spec's annotations and
/// the container's names (podman and CRI-O through containers/storage, containerd by namespace).
/// A container whose state cannot be found is still known by its id.
public struct ContainerRuntimes: Sendable {
    public init() {}

    public func state(ofContainer id: String) -> ContainerState {
        let namespaces = Files.names(in: containerdTaskRoot)
        var state = ContainerState(id: id)
        for path in runtimeSpecPaths(containerID: id, containerdNamespaces: namespaces) {
            guard let text = try? Files.readText(path) else { continue }
            state.annotations = ociAnnotations(configJSON: text)
            break
        }
        state.names = containerNames(annotations: state.annotations)
        for list in containerStorageLists {
            guard let text = try? Files.readText(list) else { continue }
            state.names += containerNames(storageList: text, containerID: id)
        }
        return state
    }
}
