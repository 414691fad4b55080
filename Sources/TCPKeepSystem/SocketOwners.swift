import CTCPKeepBPF
import Synchronization
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Where a socket is open: the process that owns it and the descriptor it holds it as.
public struct OwnerDescriptor: Sendable {
    public let pid: Int32
    public let fd: Int32
}

/// Which process owns each socket, the one with the lowest PID when several share it, found by
/// the BPF iterator or by every /proc/PID/fd: 16 bytes a socket in one sorted array, searched
/// by halving (a dictionary took more than twice that on a host with tens of thousands of
/// sockets).
struct SocketOwners: Sendable {
    struct Entry: Sendable {
        var inode: UInt64
        var pid: Int32
        var fd: Int32
    }

    /// Until `seal()`: in the order found. After: sorted by inode, one entry per inode.
    private(set) var entries: [Entry] = []
    /// Processes whose descriptors could not be read (another user's, without root).
    var unreadableProcesses = 0
    var source = OwnerSource.proc

    init() {}

    mutating func append(inode: UInt64, pid: Int32, fd: Int32) {
        entries.append(Entry(inode: inode, pid: pid, fd: fd))
    }

    /// Takes in another scan's entries and sorts them all, keeping the lowest PID per inode.
    mutating func seal(adding other: SocketOwners = SocketOwners()) {
        unreadableProcesses += other.unreadableProcesses
        if entries.count < other.entries.count {
            var larger = other.entries
            larger.append(contentsOf: entries)
            entries = larger
        } else {
            entries.append(contentsOf: other.entries)
        }
        entries.sort { ($0.inode, $0.pid) < ($1.inode, $1.pid) }
        var kept = 0
        for index in entries.indices where index == 0 || entries[index].inode != entries[kept - 1].inode {
            entries[kept] = entries[index]
            kept += 1
        }
        entries.removeLast(entries.count - kept)
    }

    /// One bit an entry, set by `claim`.
    private var claimed: [UInt64] = []

    /// The owner of `inode`, and whether it is the first claim of that inode: a table read
    /// twice as it changed can list a socket twice. False for a socket no one owns.
    mutating func claim(_ inode: UInt64) -> (owner: OwnerDescriptor?, isFirst: Bool) {
        guard let index = index(of: inode) else { return (nil, false) }
        if claimed.isEmpty { claimed = [UInt64](repeating: 0, count: (entries.count + 63) / 64) }
        let (word, bit) = (index / 64, UInt64(1) << (index % 64))
        let isFirst = claimed[word] & bit == 0
        claimed[word] |= bit
        return (OwnerDescriptor(pid: entries[index].pid, fd: entries[index].fd), isFirst)
    }

    private func index(of inode: UInt64) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].inode < inode { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].inode == inode ? low : nil
    }

    /// Every socket's owner from the BPF iterator over every process's open files
    /// (bpf/socket_holders.bpf.c): one pass in the kernel, several times cheaper a descriptor
    /// than the /proc walk (bench/audit-connections.py's `--owners proc` row). Needs root
    /// (CAP_BPF with CAP_PERFMON) and libbpf1.
    static func iterate() throws(SocketIteratorUnavailable) -> SocketOwners {
        let fd = try openSocketIterator()
        defer { close(fd) }
        var owners = SocketOwners()
        owners.source = .bpf
        // A read whose size is a multiple of the record's returns whole records.
        var records = [tcpkeep_bpf_socket_holder](repeating: tcpkeep_bpf_socket_holder(), count: 4096)
        let recordSize = MemoryLayout<tcpkeep_bpf_socket_holder>.stride
        while true {
            let got = records.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            // EAGAIN: a million files passed without a socket; the next read goes on.
            if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if got < 0 {
                let code = errno
                throw SocketIteratorUnavailable(reason: "reading the iterator: \(errorText(code))", code: code)
            }
            if got == 0 { break }
            guard got % recordSize == 0 else { throw SocketIteratorUnavailable(reason: "the iterator returned part of a record", code: EIO) }
            for record in records[0..<(got / recordSize)] {
                owners.append(inode: record.inode, pid: Int32(bitPattern: record.pid), fd: Int32(bitPattern: record.fd))
            }
        }
        owners.seal()
        return owners
    }

    /// Scans every process (or those in `only`) for descriptors that are sockets, on two
    /// threads that take processes one at a time from a shared counter (one process may hold
    /// most of the host's sockets). A process that exits during the scan is skipped.
    ///
    /// With `wanted`, the scan looks for those socket inodes only and stops once it has found
    /// them all: a socket shared by several processes may then be credited to any of them.
    static func scan(only pids: Set<Int32>? = nil, wanted: Set<UInt64>? = nil) -> SocketOwners {
        let work = ScanWork(pids: pids.map { $0.sorted() } ?? Files.names(in: "/proc").compactMap { Int32($0) }, wanted: wanted)
        // Threads take processes from the work one at a time: the other starts first.
        let other = work.pids.count > 8 ? BackgroundWork { work.scan() } : nil
        var owners = work.scan()
        owners.seal(adding: other?.wait() ?? SocketOwners())
        return owners
    }
}

/// The BPF iterator's descriptor, whose reads return `tcpkeep_bpf_socket_holder` records: the one
/// call into the C loader for it.
private func openSocketIterator() throws(SocketIteratorUnavailable) -> Int32 {
    var error = [CChar](repeating: 0, count: 512)
    let fd = error.withUnsafeMutableBufferPointer { tcpkeep_bpf_open_socket_holders(EmbeddedBPF.socketHolders, $0.baseAddress!, $0.count) }
    guard fd >= 0 else {
        let code = errno
        throw SocketIteratorUnavailable(reason: text(of: error), code: code)
    }
    return fd
}

/// Why the BPF iterator could not map sockets to processes: the loader's line and its errno.
public struct SocketIteratorUnavailable: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let code: Int32
    public var description: String { "BPF iterator: \(reason)" }
}

/// The processes a scan covers, handed out one at a time to the threads that scan them.
private final class ScanWork: Sendable {
    let pids: [Int32]
    private let next = Atomic<Int>(0)
    /// With CAP_SYS_PTRACE nothing is refused for want of rights: EACCES then means the
    /// process is exiting, and its sockets with it.
    private let mayReadAll = holdsPtraceCapability

    /// The inodes looked for, those found so far by either thread, and whether all are.
    private let wanted: Set<UInt64>?
    private let found = Mutex<Set<UInt64>>([])
    private let done = Atomic<Bool>(false)

    init(pids: [Int32], wanted: Set<UInt64>?) {
        self.pids = pids
        self.wanted = wanted
        if wanted?.isEmpty == true { done.store(true, ordering: .relaxed) }
    }

    /// Notes that `inode`, a wanted one, was found.
    private func foundWanted(_ inode: UInt64) {
        found.withLock { found in
            if found.insert(inode).inserted && found.count == wanted!.count { done.store(true, ordering: .relaxed) }
        }
    }

    func scan() -> SocketOwners {
        var owners = SocketOwners()
        func isRefusal(_ code: Int32) -> Bool { (code == EACCES || code == EPERM) && !mayReadAll }
        var status = stat()
        while !done.load(ordering: .relaxed) {
            let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard index < pids.count else { break }
            let pid = pids[index]
            guard let directory = opendir("/proc/\(pid)/fd") else {
                if isRefusal(errno) { owners.unreadableProcesses += 1 }
                continue
            }
            defer { closedir(directory) }
            let directoryFD = dirfd(directory)
            while let entry = readdir(directory) {
                if wanted != nil && done.load(ordering: .relaxed) { break }
                // stat follows the descriptor to the socket itself: its inode is the one
                // the kernel reports, and this is cheaper than reading the link's text.
                let (result, fd) = withUnsafePointer(to: &entry.pointee.d_name) { name in
                    name.withMemoryRebound(to: UInt8.self, capacity: 256) { bytes in
                        (fstatat(directoryFD, UnsafeRawPointer(bytes).assumingMemoryBound(to: CChar.self), &status, 0), descriptorNumber(bytes))
                    }
                }
                if result != 0 && isRefusal(errno) {
                    // Listed but not readable: ptrace access to the process is refused.
                    owners.unreadableProcesses += 1
                    break
                }
                guard result == 0, status.st_mode & S_IFMT == S_IFSOCK, let fd else { continue }
                let inode = UInt64(status.st_ino)
                if let wanted {
                    guard wanted.contains(inode) else { continue }
                    foundWanted(inode)
                }
                owners.append(inode: inode, pid: pid, fd: fd)
            }
        }
        return owners
    }
}

/// A /proc/PID/fd entry's name as a number; nil for `.`, `..` or anything else.
private func descriptorNumber(_ name: UnsafePointer<UInt8>) -> Int32? {
    var value: Int32 = 0
    var index = 0
    while name[index] != 0 {
        let digit = name[index] &- UInt8(ascii: "0")
        guard digit < 10, index < 10 else { return nil }
        value = value &* 10 &+ Int32(digit)
        index += 1
    }
    return index == 0 ? nil : value
}

/// A process's name, executable, unit, container and pod, each read once.
struct OwnerCache {
    private var owners: [Int32: SocketOwner?] = [:]

    /// Nil when the process is gone. Its name and executable are kept as the kernel gives them:
    /// the process chose them, and they are escaped where they are shown.
    mutating func owner(_ pid: Int32) -> SocketOwner? {
        if let known = owners[pid] { return known }
        let owner = readOwner(pid)
        owners[pid] = owner
        return owner
    }

    /// A process that exits while it is read, or that cannot be read at all, owns nothing: its
    /// sockets count as unmapped, and the summary says how many there are.
    private func readOwner(_ pid: Int32) -> SocketOwner? {
        let comm: [UInt8]
        let cgroups: ProcessCgroups
        do {
            guard let name = try Files.read("/proc/\(pid)/comm") else { return nil }
            comm = name.last == UInt8(ascii: "\n") ? Array(name.dropLast()) : name
            // A kernel without cgroups has no such file, and no units or containers.
            cgroups = ProcessCgroups(parsing: try Files.readText("/proc/\(pid)/cgroup") ?? "")
        } catch {
            return nil
        }
        let identity = containerIdentity(in: cgroups)
        return SocketOwner(
            pid: pid, process: ForeignText(bytes: comm), executable: Files.readLinkBytes("/proc/\(pid)/exe").map(ForeignText.init(bytes:)),
            unit: systemdUnit(in: cgroups), container: identity.container, pod: identity.pod)
    }
}
