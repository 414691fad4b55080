/// A directory to treat as / (an image, a container's tree, a test's), or the running system.
public struct RootDirectory: Equatable, Sendable {
    /// Nil for the running system.
    public let path: String?

    public init(_ path: String?) {
        self.path = path
    }

    /// Whether the files are those of the running system, not of a tree under --root.
    public var isLiveSystem: Bool { path == nil || path == "/" }
}
