import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Every network namespace on the host: the distinct ones of /proc/*/ns/net, by inode, and
/// those bound under /run/netns (`ip netns add`) that no process is in. Without the rights to
/// read another user's ns link (not root), a process's namespace is told apart by its
/// /proc/PID/net/tcp entry, which the kernel makes once per namespace; its inode is then
/// unknown and it can only be read through /proc.
func allNetworkNamespaces() -> [NamespaceTarget] {
    var targets: [NamespaceTarget] = []
    var seenNamespaces: Set<UInt64> = []
    /// The target of each /proc/PID/net/tcp entry seen, by its inode.
    var seenTables: [UInt64: Int] = [:]
    var status = stat()
    func inode(_ path: String) -> UInt64? {
        stat(path, &status) == 0 ? UInt64(status.st_ino) : nil
    }
    // This process's own first: read without entering it.
    if let own = inode("/proc/self/ns/net") {
        seenNamespaces.insert(own)
        if let table = inode("/proc/self/net/tcp") { seenTables[table] = 0 }
        targets.append(NamespaceTarget(netns: own, namespacePath: nil, procDirectory: "/proc/self/net", isOwn: true))
    }
    for name in Files.names(in: "/proc") where Int32(name) != nil {
        let namespace = inode("/proc/\(name)/ns/net")
        if let namespace, seenNamespaces.contains(namespace) { continue }
        guard let table = inode("/proc/\(name)/net/tcp") else { continue }
        if let namespace { seenNamespaces.insert(namespace) }
        if let known = seenTables[table] {
            // Seen before through a process whose ns link was not readable: now it is.
            if targets[known].netns == nil, let namespace {
                targets[known].netns = namespace
                targets[known].namespacePath = "/proc/\(name)/ns/net"
            }
            continue
        }
        seenTables[table] = targets.count
        targets.append(NamespaceTarget(
            netns: namespace, namespacePath: namespace == nil ? nil : "/proc/\(name)/ns/net", procDirectory: "/proc/\(name)/net",
            mayVanish: true))
    }
    for name in Files.names(in: "/run/netns").sorted() {
        let path = "/run/netns/\(name)"
        guard let namespace = inode(path), !seenNamespaces.contains(namespace) else { continue }
        seenNamespaces.insert(namespace)
        targets.append(NamespaceTarget(netns: namespace, namespacePath: path, procDirectory: nil, mayVanish: true))
    }
    return targets
}
