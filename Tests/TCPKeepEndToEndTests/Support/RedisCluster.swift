import Foundation
import Testing

/// Three redis-server masters on 127.0.0.1, data in a temporary directory, formed into a
/// cluster. `stop()` (in a `defer`) ends every node by its PID, also when the test fails.
final class RedisCluster {
    let ports: [Int]
    private(set) var nodes: [RunningProgram] = []
    let directory: URL

    var busPorts: ClosedRange<Int> { (ports.first! + 10000)...(ports.last! + 10000) }
    var pids: [Int32] { nodes.map(\.pid) }

    /// Starts the nodes, each through `launcher` (say, `tcpkeep run ... --`), and forms the cluster.
    init(ports: [Int], launcher: [String]) throws {
        try requireProgram("redis-server")
        try requireProgram("redis-cli")
        self.ports = ports
        directory = Artifacts.scratch.appendingPathComponent("redis-\(ports[0])-\(UUID().uuidString)")
        do {
            for port in ports {
                let data = directory.appendingPathComponent("\(port)")
                try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
                let configuration = """
                    port \(port)
                    bind 127.0.0.1
                    cluster-enabled yes
                    cluster-config-file nodes.conf
                    dir \(data.path)
                    save ""
                    appendonly no
                    logfile ""
                    daemonize no

                    """
                let file = data.appendingPathComponent("redis.conf")
                try configuration.write(to: file, atomically: true, encoding: .utf8)
                nodes.append(try RunningProgram(launcher + ["redis-server", file.path], readyLine: "Ready to accept connections"))
            }
            let create = try runProcess(
                ["redis-cli", "--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-replicas", "0", "--cluster-yes"])
            guard create.status == 0 else { throw ClusterFailed(message: "redis-cli --cluster create failed: \(create)") }
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        nodes.forEach { $0.stop() }
        try? FileManager.default.removeItem(at: directory)
    }

    struct ClusterFailed: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
