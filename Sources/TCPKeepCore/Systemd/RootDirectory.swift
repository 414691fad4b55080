/// A directory to treat as / (an image, a container's tree, a test's), or the running system.
public struct RootDirectory: Equatable, Sendable {
    /// Nil for the running system.
    public let path: String?

    public init(_ path: String?) {
        self.path = path
    }

    /// `path` (absolute, as on the running system) under the root.
    public func onDisk(_ path: String) -> String {
        guard let root = self.path else { return path }
        return (root.hasSuffix("/") ? String(root.dropLast()) : root) + path
    }

    /// Whether the files are those of the running system, not of a tree under --root.
    public var isLiveSystem: Bool { path == nil || path == "/" }
}
