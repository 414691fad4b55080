#if canImport(Glibc)
import Glibc
#endif

/// A cgroup that appeared or vanished, by its path below the cgroup v2 mount ("" is the root)
/// and its id (the directory's inode number, which BPF's bpf_get_current_cgroup_id returns).
public enum CgroupChange: Equatable, Sendable {
    case appeared(path: String, id: UInt64)
    case vanished(path: String, id: UInt64)
    /// The kernel's event queue overflowed: the tree must be read again whole.
    case overflowed
}

/// Watches a cgroup v2 tree with inotify: a mkdir anywhere shows as IN_CREATE|IN_ISDIR on its
/// parent, an rmdir as IN_DELETE|IN_ISDIR. Every directory gets its own watch, added as it
/// appears; what was made below it before its watch existed is found by reading it then.
public final class CgroupTreeWatcher {
    public let mount: String
    /// The top of the watched tree, below the mount ("" for the whole tree).
    public let top: String
    public let descriptor: Int32
    private var pathsByWatch: [Int32: String] = [:]
    private var cgroups: [String: (watch: Int32, id: UInt64)] = [:]

    private static let directoryEvents = UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_ONLYDIR)

    public init(mount: String, top: String = "") throws(SystemError) {
        self.mount = mount
        self.top = top
        descriptor = try checked(inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)), "cannot start inotify")
    }

    deinit { close(descriptor) }

    /// Every cgroup now watched, by path.
    public var tracked: [String: UInt64] { cgroups.mapValues(\.id) }

    /// Watches the whole tree and returns every cgroup in it (the top first, parents before
    /// children). Called again after an overflow, it returns the tree as it is now, and the
    /// watches of vanished cgroups are dropped.
    public func scan() throws(SystemError) -> [CgroupChange] {
        var changes: [CgroupChange] = []
        let before = cgroups
        try add(top, into: &changes)
        for (path, cgroup) in before where !Files.isDirectory(absolute(path)) {
            cgroups[path] = nil
            pathsByWatch[cgroup.watch] = nil
            changes.append(.vanished(path: path, id: cgroup.id))
        }
        return changes
    }

    /// Reads what the kernel has queued; empty when nothing is.
    public func changes() throws(SystemError) -> [CgroupChange] {
        var changes: [CgroupChange] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { return changes }
                let code = errno
                throw SystemError("cannot read the cgroup tree's inotify events", code: code)
            }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (watch, mask, length) = buffer.withUnsafeBytes { bytes in
                    let event = bytes.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let name = String(decoding: buffer[nameStart..<nameStart + length].prefix { $0 != 0 }, as: UTF8.self)
                offset = nameStart + length
                try handle(watch: watch, mask: mask, name: name, into: &changes)
            }
        }
    }

    private func handle(watch: Int32, mask: UInt32, name: String, into changes: inout [CgroupChange]) throws(SystemError) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            changes.append(.overflowed)
            return
        }
        if mask & UInt32(IN_IGNORED) != 0 {
            pathsByWatch[watch] = nil
            return
        }
        guard mask & UInt32(IN_ISDIR) != 0, let parent = pathsByWatch[watch] else { return }
        let path = parent.isEmpty ? name : "\(parent)/\(name)"
        if mask & UInt32(IN_CREATE) != 0 {
            try add(path, into: &changes)
        } else if mask & UInt32(IN_DELETE) != 0, let cgroup = cgroups.removeValue(forKey: path) {
            pathsByWatch[cgroup.watch] = nil
            changes.append(.vanished(path: path, id: cgroup.id))
        }
    }

    /// Watches a directory and everything below it; a directory gone before it could be
    /// watched is skipped (its DELETE event follows).
    private func add(_ path: String, into changes: inout [CgroupChange]) throws(SystemError) {
        let directory = absolute(path)
        let watch = inotify_add_watch(descriptor, directory, Self.directoryEvents)
        if watch < 0 {
            if errno == ENOENT || errno == ENOTDIR { return }
            let code = errno
            throw SystemError("cannot watch \(directory) (fs.inotify.max_user_watches may be too low)", code: code)
        }
        var status = stat()
        guard stat(directory, &status) == 0 else { return }
        let id = UInt64(status.st_ino)
        if cgroups[path]?.id != id {
            changes.append(.appeared(path: path, id: id))
        }
        cgroups[path] = (watch, id)
        pathsByWatch[watch] = path
        for name in Self.subdirectories(of: directory) {
            try add(path.isEmpty ? name : "\(path)/\(name)", into: &changes)
        }
    }

    private func absolute(_ path: String) -> String {
        path.isEmpty ? mount : "\(mount)/\(path)"
    }

    private static func subdirectories(of directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = Files.entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
