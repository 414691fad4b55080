import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Where a socket is open: a process and one of its descriptors.
public struct SocketHolder: Sendable {
    public let pid: Int32
    public let fd: Int32
}

/// Which processes hold which sockets, from every /proc/PID/fd.
struct SocketOwnership: Sendable {
    /// For each socket inode, the holder with the lowest PID.
    var holders: [UInt64: SocketHolder] = [:]
    /// Processes whose descriptors could not be read (another user's, without root).
    var unreadableProcesses = 0

    /// Scans every process (or those in `only`) for descriptors that are sockets. A process that
    /// exits during the scan is skipped.
    static func scan(only pids: Set<Int32>? = nil) -> SocketOwnership {
        var ownership = SocketOwnership()
        // With CAP_SYS_PTRACE nothing is refused for want of rights: EACCES then means the
        // process is exiting, and its sockets with it.
        let mayReadAll = holdsPtraceCapability
        func isRefusal(_ code: Int32) -> Bool { (code == EACCES || code == EPERM) && !mayReadAll }
        var status = stat()
        for name in pids.map({ $0.sorted().map(String.init) }) ?? Files.names(in: "/proc") {
            guard let pid = Int32(name) else { continue }
            guard let directory = opendir("/proc/\(name)/fd") else {
                if isRefusal(errno) { ownership.unreadableProcesses += 1 }
                continue
            }
            defer { closedir(directory) }
            let directoryFD = dirfd(directory)
            while let entry = readdir(directory) {
                // stat follows the descriptor to the socket itself: its inode is the one
                // /proc/net/tcp shows, and this is cheaper than reading the link's text.
                let result = withUnsafePointer(to: &entry.pointee.d_name) { name in
                    name.withMemoryRebound(to: CChar.self, capacity: 256) { fstatat(directoryFD, $0, &status, 0) }
                }
                if result != 0 && isRefusal(errno) {
                    // Listed but not readable: ptrace access to the process is refused.
                    ownership.unreadableProcesses += 1
                    break
                }
                guard result == 0, status.st_mode & S_IFMT == S_IFSOCK, let fd = Int32(Files.entryName(entry)) else { continue }
                let inode = UInt64(status.st_ino)
                if let known = ownership.holders[inode], known.pid < pid { continue }
                ownership.holders[inode] = SocketHolder(pid: pid, fd: fd)
            }
        }
        return ownership
    }
}

/// A process's name, executable, unit, container and pod, each read once.
struct OwnerCache {
    private var owners: [Int32: SocketOwner?] = [:]

    /// Nil when the process is gone.
    mutating func owner(_ pid: Int32) -> SocketOwner? {
        if let known = owners[pid] { return known }
        let owner = (try? Files.readText("/proc/\(pid)/comm"))?.map { comm in
            let cgroup = (try? Files.readText("/proc/\(pid)/cgroup")) ?? nil
            let identity = cgroup.map(containerIdentity(fromCgroup:))
            return SocketOwner(
                pid: pid,
                process: comm.hasSuffix("\n") ? String(comm.dropLast()) : comm,
                executable: Files.readLink("/proc/\(pid)/exe"),
                unit: cgroup.flatMap(systemdUnit(fromCgroup:)), container: identity?.container, pod: identity?.pod)
        }
        owners[pid] = owner
        return owner
    }
}
