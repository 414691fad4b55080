/// Where kernel mode attaches: a cgroup v2 directory, named one of four ways.
public enum KernelTarget: Equatable, Sendable {
    /// A cgroup directory, absolute or relative to the cgroup v2 mount.
    case cgroup(String)
    /// A systemd unit's control group.
    case unit(UnitName)
    /// A process's cgroup: how a container is named.
    case pid(Int32)
    /// The root cgroup: every TCP connection on the host.
    case all
}

/// Where bpffs keeps tcpkeep's pins.
public let kernelPinRoot = "/sys/fs/bpf/tcpkeep"

/// The pins a unit's drop-in names, stable across its restarts (its cgroup is made anew each
/// time). bpffs refuses a name with a dot, so `.` is written `_2e` (and `_` itself `_5f`, so that
/// no two units share a directory): `redis-server_2eservice`.
public func unitPinDirectory(_ unit: UnitName) -> String {
    let escaped = unit.name.map { $0 == "_" ? "_5f" : $0 == "." ? "_2e" : String($0) }.joined()
    return "\(kernelPinRoot)/unit/\(escaped)"
}

/// The unit whose pins `unitPinDirectory` put in this directory; nil for a cgroup's pins.
public func unitName(ofPinDirectory directory: String) -> String? {
    let prefix = "\(kernelPinRoot)/unit/"
    guard directory.hasPrefix(prefix) else { return nil }
    return String(directory.dropFirst(prefix.count)).replacingOccurrences(of: "_2e", with: ".").replacingOccurrences(of: "_5f", with: "_")
}

/// The mount point of the cgroup v2 hierarchy in the text of /proc/mounts: `/sys/fs/cgroup` on a
/// unified host, `/sys/fs/cgroup/unified` on a hybrid one; nil without cgroup v2.
public func cgroupV2Mount(mounts text: String) -> String? {
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        if fields.count >= 3 && fields[2] == "cgroup2" {
            // /proc/mounts writes a space in a path as \040.
            return String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
        }
    }
    return nil
}

/// The cgroup directory `--cgroup PATH` names: an absolute path as it is, when it is the mount
/// or under it; a relative one under the mount. Nil for an absolute path outside the mount
/// (`/sys/fs/cgroup/memory`, a cgroup v1 hierarchy on a hybrid host): no cgroup v2 cgroup.
public func cgroupDirectory(named path: String, mount: String) -> String? {
    if path == mount || path.hasPrefix(mount + "/") { return path }
    if path.hasPrefix("/") { return nil }
    return cgroupDirectory(ofCgroupPath: path, mount: mount)
}

/// The directory of a cgroup as the kernel and systemd name it, relative to the mount's root
/// (`/system.slice/redis-server.service` in /proc/PID/cgroup, a unit's ControlGroup).
public func cgroupDirectory(ofCgroupPath path: String, mount: String) -> String {
    let relative = path.drop { $0 == "/" }
    return relative.isEmpty ? mount : mount + "/" + relative
}
