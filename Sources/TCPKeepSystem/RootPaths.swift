import TCPKeepCore

extension RootDirectory {
    /// Where `path` (absolute, as on the system the root holds) is on disk, every symbolic link
    /// on the way followed inside the root, as systemd's own --root handling does: an absolute
    /// target is taken from the root, and `..` stops at it. So nothing under --root is read or
    /// written outside it. On the running system the path is the path.
    public func resolve(_ path: String) -> String {
        guard let root = self.path, !isLiveSystem else { return path }
        let top = root.hasSuffix("/") ? String(root.dropLast()) : root
        var resolved: [Substring] = []
        var pending = path.split(separator: "/")[...]
        var links = 0
        while let component = pending.popFirst() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = top + "/" + (resolved + [component]).joined(separator: "/")
            // Forty links, as the kernel's own limit, and a loop is left where it stands.
            guard links < 40, let target = Files.readLink(candidate) else {
                resolved.append(component)
                continue
            }
            links += 1
            if target.hasPrefix("/") { resolved = [] }
            pending = (target.split(separator: "/") + pending)[...]
        }
        return top + "/" + resolved.joined(separator: "/")
    }
}
