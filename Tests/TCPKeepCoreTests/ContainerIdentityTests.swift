import TCPKeepCore
import Testing

/// Container ids and pod UIDs from the text of /proc/PID/cgroup, in each runtime's shape.
@Suite("Container and pod from a cgroup path")
struct ContainerIdentityTests {
    static let id = "3f4e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"
    static let uid = "0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e"
    static var underscored: String { String(uid.map { $0 == "-" ? "_" : $0 }) }

    @Test("each runtime's systemd scope, on the unified line")
    func scopes() {
        for prefix in ["docker-", "cri-containerd-", "crio-", "libpod-"] {
            let text = "0::/system.slice/\(prefix)\(Self.id).scope\n"
            #expect(containerIdentity(in: ProcessCgroups(parsing: text)) == ContainerIdentity(container: Self.id, pod: nil), "\(prefix)")
        }
        // podman puts the payload one level below its scope.
        #expect(containerIdentity(in: ProcessCgroups(parsing: "0::/machine.slice/libpod-\(Self.id).scope/container\n")).container == Self.id)
    }

    @Test("the cgroupfs driver's shapes")
    func cgroupfs() {
        #expect(containerIdentity(in: ProcessCgroups(parsing: "0::/docker/\(Self.id)\n")).container == Self.id)
        #expect(containerIdentity(in: ProcessCgroups(parsing: "0::/libpod_parent/libpod-\(Self.id)\n")).container == Self.id)
        let pod = containerIdentity(in: ProcessCgroups(parsing: "0::/kubepods/burstable/pod\(Self.uid)/\(Self.id)\n"))
        #expect(pod == ContainerIdentity(container: Self.id, pod: Self.uid))
        #expect(containerIdentity(in: ProcessCgroups(parsing: "0::/kubepods/pod\(Self.uid)/\(Self.id)\n")).pod == Self.uid)
    }

    @Test("kubepods slices: the pod UID with its underscores turned back into dashes")
    func kubepods() {
        let burstable = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(Self.underscored).slice/cri-containerd-\(Self.id).scope\n"
        #expect(containerIdentity(in: ProcessCgroups(parsing: burstable)) == ContainerIdentity(container: Self.id, pod: Self.uid))
        let guaranteed = "0::/kubepods.slice/kubepods-pod\(Self.underscored).slice/crio-\(Self.id).scope\n"
        #expect(containerIdentity(in: ProcessCgroups(parsing: guaranteed)) == ContainerIdentity(container: Self.id, pod: Self.uid))
        let besteffort = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(Self.underscored).slice\n"
        #expect(containerIdentity(in: ProcessCgroups(parsing: besteffort)) == ContainerIdentity(container: nil, pod: Self.uid))
    }

    @Test("a hybrid host: the v2 line or the name=systemd line, whichever names it")
    func hybrid() {
        let inSystemdLine = "12:pids:/system.slice/docker-\(Self.id).scope\n1:name=systemd:/system.slice/docker-\(Self.id).scope\n0::/\n"
        #expect(containerIdentity(in: ProcessCgroups(parsing: inSystemdLine)).container == Self.id)
        let inUnifiedLine = "5:memory:/\n1:name=systemd:/user.slice\n0::/tcpkeep-test.slice/crio-\(Self.id).scope\n"
        #expect(containerIdentity(in: ProcessCgroups(parsing: inUnifiedLine)).container == Self.id)
        // A v1 controller's line alone does not count.
        #expect(containerIdentity(in: ProcessCgroups(parsing: "4:memory:/docker/\(Self.id)\n0::/\n")) == ContainerIdentity())
    }

    @Test("not containers: plain units, runtime monitors, short or non-hex ids, malformed UIDs")
    func notContainers() {
        for text in [
            "0::/system.slice/redis-server.service\n", "0::/\n", "",
            "0::/machine.slice/libpod-conmon-\(Self.id).scope\n", "0::/system.slice/crio-conmon-\(Self.id).scope\n",
            "0::/system.slice/docker-abc.scope\n", "0::/system.slice/docker-\(Self.id.uppercased()).scope\n",
            "0::/system.slice/docker.service\n", "0::/docker/notanid\n",
            "0::/kubepods.slice/kubepods-burstable-podnot_a_uid.slice\n", "0::/user.slice/pod\(Self.uid)\n",
        ] {
            #expect(containerIdentity(in: ProcessCgroups(parsing: text)) == ContainerIdentity(), "\(text)")
        }
    }
}
