import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// Where a socket is open: a process and one of its descriptors.
struct SocketHolder {
    let pid: Int32
    let fd: Int32
}

/// Which processes hold which sockets, from every /proc/PID/fd.
struct SocketOwnership {
    /// For each wanted inode, the holder with the lowest PID.
    var holders: [UInt64: SocketHolder] = [:]
    /// Processes whose descriptors could not be read (another user's, without root).
    var unreadableProcesses = 0

    /// Scans every process (or those in `only`) for descriptors that are sockets in `inodes`.
    /// A process that exits during the scan is skipped.
    static func scan(for inodes: Set<UInt64>, only pids: Set<Int32>? = nil) -> SocketOwnership {
        var ownership = SocketOwnership()
        guard !inodes.isEmpty else { return ownership }
        // One buffer for every link: a busy host has tens of thousands of descriptors.
        var link = [CChar](repeating: 0, count: 64)
        for name in pids.map({ $0.sorted().map(String.init) }) ?? Files.names(in: "/proc") {
            guard let pid = Int32(name) else { continue }
            guard let directory = opendir("/proc/\(name)/fd") else {
                if errno == EACCES || errno == EPERM { ownership.unreadableProcesses += 1 }
                continue
            }
            defer { closedir(directory) }
            let directoryFD = dirfd(directory)
            while let entry = readdir(directory) {
                let length = withUnsafePointer(to: &entry.pointee.d_name) { name in
                    name.withMemoryRebound(to: CChar.self, capacity: 256) { readlinkat(directoryFD, $0, &link, link.count) }
                }
                if length < 0 && (errno == EACCES || errno == EPERM) {
                    // Listed but not readable: ptrace access to the process is refused.
                    ownership.unreadableProcesses += 1
                    break
                }
                guard length > 0, let inode = socketInode(link[..<length]), inodes.contains(inode),
                    let fd = Int32(Files.entryName(entry))
                else { continue }
                if let known = ownership.holders[inode], known.pid < pid { continue }
                ownership.holders[inode] = SocketHolder(pid: pid, fd: fd)
            }
        }
        return ownership
    }
}

/// `socket:[12345]` is 12345.
private func socketInode(_ link: ArraySlice<CChar>) -> UInt64? {
    let prefix = "socket:[".utf8
    guard link.count > prefix.count + 1, link.last == CChar(UInt8(ascii: "]")),
        zip(link, prefix).allSatisfy({ UInt8(bitPattern: $0) == $1 })
    else { return nil }
    var inode: UInt64 = 0
    for character in link.dropFirst(prefix.count).dropLast() {
        let digit = UInt8(bitPattern: character) &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        inode = inode &* 10 &+ UInt64(digit)
    }
    return inode
}

/// A process's name, executable and unit, each read once.
struct OwnerCache {
    private var owners: [Int32: SocketOwner?] = [:]

    /// Nil when the process is gone.
    mutating func owner(_ pid: Int32) -> SocketOwner? {
        if let known = owners[pid] { return known }
        let owner = (try? Files.readText("/proc/\(pid)/comm")).flatMap { $0 }.map { comm in
            SocketOwner(
                pid: pid,
                process: comm.trimmingTrailingNewline(),
                executable: Files.readLink("/proc/\(pid)/exe"),
                unit: (try? Files.readText("/proc/\(pid)/cgroup")).flatMap { $0 }.flatMap(systemdUnit(fromCgroup:)))
        }
        owners[pid] = owner
        return owner
    }
}

extension String {
    func trimmingTrailingNewline() -> String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}
