import TCPKeepCore
import Testing

/// Which cgroup directory kernel mode's options name, on a unified host and on a hybrid one.
@Suite("Kernel mode's cgroup paths")
struct KernelTargetTests {
    @Test("--cgroup: an absolute path under the mount as it is, a relative one under the mount, any other absolute path none")
    func namedPaths() {
        for mount in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            #expect(cgroupDirectory(named: mount, mount: mount) == mount)
            #expect(cgroupDirectory(named: "\(mount)/system.slice", mount: mount) == "\(mount)/system.slice")
            #expect(cgroupDirectory(named: "system.slice/redis.service", mount: mount) == "\(mount)/system.slice/redis.service")
            #expect(cgroupDirectory(named: "/tmp", mount: mount) == nil)
            // A sibling whose name starts like the mount's is outside it.
            #expect(cgroupDirectory(named: "\(mount)-v1/x", mount: mount) == nil)
        }
        // A cgroup v1 hierarchy beside the hybrid host's v2 mount is not joined under it.
        #expect(cgroupDirectory(named: "/sys/fs/cgroup/memory", mount: "/sys/fs/cgroup/unified") == nil)
    }

    @Test("a cgroup path as /proc/PID/cgroup and systemd write it is under the mount; / is the root cgroup")
    func kernelPaths() {
        let mount = "/sys/fs/cgroup/unified"
        #expect(cgroupDirectory(ofCgroupPath: "/", mount: mount) == mount)
        #expect(cgroupDirectory(ofCgroupPath: "/system.slice/redis.service", mount: mount) == "\(mount)/system.slice/redis.service")
        #expect(ProcessCgroups(parsing: "12:memory:/x\n0::/libpod_parent/libpod-1\n").unified == "/libpod_parent/libpod-1")
    }
}
