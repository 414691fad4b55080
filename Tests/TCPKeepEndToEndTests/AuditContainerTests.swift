import Foundation
import Testing

/// Holders moved into cgroups shaped like each container runtime's, then audited: each gets
/// its container id and pod UID.
@Suite("tcpkeep audit: containers and pods from cgroups")
struct AuditContainerTests {
    /// cgroup v2's mount point, from /proc/mounts (/sys/fs/cgroup/unified on a hybrid host).
    static func unifiedMount() throws -> String {
        let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
        let line = mounts.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.count > 2 && $0[2] == "cgroup2" }
        return String(try #require(line, "no cgroup2 mount in /proc/mounts")[1])
    }

    /// A 64-hex-digit container id that differs per runtime and per run.
    static func containerID(_ seed: Int) -> String {
        let unit = String(format: "%08x", (Int(getpid()) &* 7919 &+ seed) & 0xffff_ffff)
        return String(repeating: unit, count: 8)
    }

    @Test("docker, containerd, cri-o, podman and kubepods shapes, each labelled with its id")
    func runtimes() throws {
        try requireRoot()
        let mount = try Self.unifiedMount()
        let base = "tcpkeep-test-\(getpid()).slice"
        let uid = "0b9c8d7e-6f5a-4b3c-2d1e-\(String(format: "%012x", Int(getpid())))"
        let underscored = uid.replacingOccurrences(of: "-", with: "_")
        let shapes: [(path: String, container: String?, pod: String?)] = [
            ("\(base)/docker-\(Self.containerID(1)).scope", Self.containerID(1), nil),
            ("\(base)/docker/\(Self.containerID(2))", Self.containerID(2), nil),
            ("\(base)/cri-containerd-\(Self.containerID(3)).scope", Self.containerID(3), nil),
            ("\(base)/crio-\(Self.containerID(4)).scope", Self.containerID(4), nil),
            ("\(base)/libpod-\(Self.containerID(5)).scope/container", Self.containerID(5), nil),
            ("\(base)/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(underscored).slice/cri-containerd-\(Self.containerID(6)).scope",
             Self.containerID(6), uid),
            ("\(base)/kubepods/besteffort/pod\(uid)/\(Self.containerID(7))", Self.containerID(7), uid),
            ("\(base)/plain.service", nil, nil),
        ]
        var created: [String] = []
        var holders: [RunningProgram] = []
        // Clean up even on failure: the holders end (leaving their cgroups), then the
        // directories go, deepest first.
        defer {
            holders.forEach { $0.stop() }
            for directory in created.sorted(by: { $0.count > $1.count }) { rmdir(directory) }
        }
        for shape in shapes {
            var path = mount
            for component in shape.path.split(separator: "/") {
                path += "/\(component)"
                if !FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
                    created.append(path)
                }
            }
            let holder = try RunningProgram([try Artifacts.holder.get(), "4:none"])
            holders.append(holder)
            try "\(holder.pid)\n".write(toFile: "\(path)/cgroup.procs", atomically: false, encoding: .utf8)
            let cgroup = try String(contentsOfFile: "/proc/\(holder.pid)/cgroup", encoding: .utf8)
            #expect(cgroup.contains("0::/\(shape.path)\n"), "\(cgroup)")
        }

        let pids = holders.flatMap { ["--pid", "\($0.pid)"] }
        let audit = try AuditJSON(pids)
        #expect(audit.result.status == 0, "\(audit.result)")
        for (holder, shape) in zip(holders, shapes) {
            let connections = audit.of(holder.pid)
            #expect(connections.count == 2, "\(shape.path)")
            for connection in connections {
                #expect(connection["container"] as? String == shape.container, "\(shape.path): \(connection)")
                #expect(connection["pod"] as? String == shape.pod, "\(shape.path): \(connection)")
            }
        }

        // The table groups by container and shows 12 characters of the id.
        let table = try runProcess([Artifacts.tcpkeep, "audit"] + pids)
        #expect(table.lines.first == "no container", "\(table)")
        for (holder, shape) in zip(holders, shapes) {
            guard let container = shape.container else { continue }
            let heading = "container \(container.prefix(12))" + (shape.pod.map { " (pod \($0))" } ?? "")
            let at = try #require(table.lines.firstIndex(of: heading), "\(heading) in \(table)")
            #expect(table.lines[at + 1].hasPrefix("holder (pid \(holder.pid), "), "\(table)")
            #expect(!table.stdout.contains(container), "the whole id is JSON's")
        }

        // Prometheus: the container and pod labels, series per owner and status.
        let prometheus = try runProcess([Artifacts.tcpkeep, "audit", "--format", "prometheus"] + pids)
        let series = prometheus.lines.filter { $0.hasPrefix("tcpkeep_connections{") }
        #expect(series.count == shapes.count, "one series per container, and one for the holder in none: \(series)")
        let kube = "tcpkeep_connections{process=\"holder\",unit=\"\",container=\"\(Self.containerID(6))\",pod=\"\(uid)\",status=\"missing\"} 2"
        #expect(series.contains(kube), "\(series)")
        // The unit is plain.service on a unified host; a hybrid one takes it from the
        // name=systemd line, which names none here.
        #expect(series.contains { $0.hasSuffix(",container=\"\",pod=\"\",status=\"missing\"} 2") }, "\(series)")
    }
}
