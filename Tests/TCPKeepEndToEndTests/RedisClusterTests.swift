import Foundation
import Testing

/// A redis cluster's bus links: redis sets keepalive on the inbound ones only, so the outbound
/// ones hang forever when a peer vanishes, unless the nodes run under the shim.
@Suite("The redis cluster bus")
struct RedisClusterTests {
    static let shim = ["--idle", "10", "--interval", "2", "--count", "3"]

    /// The audit of the cluster's bus links, once every node has a link to and from every other.
    func busLinks(_ cluster: RedisCluster, extra: [String] = []) throws -> (status: Int32?, links: [[String: Any]]) {
        let range = "\(cluster.busPorts.lowerBound)-\(cluster.busPorts.upperBound)"
        let expected = cluster.ports.count * (cluster.ports.count - 1) * 2
        var last: ProcessResult? = nil
        for _ in 0..<100 {
            let result = try runProcess([Artifacts.tcpkeep, "audit", "--port", range, "--format", "json"] + extra)
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let links = (object?["connections"] as? [[String: Any]] ?? []).filter { link in
                cluster.pids.contains(Int32(link["pid"] as? Int ?? -1))
            }
            if links.count == expected { return (result.status, links) }
            last = result
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw RedisCluster.ClusterFailed(message: "the bus links never all came up: \(String(describing: last))")
    }

    /// Whether a link is the connecting (outbound) end: its remote port is a bus port, its local one is not.
    func isOutbound(_ link: [String: Any], _ cluster: RedisCluster) -> Bool {
        let port = { (endpoint: String) in Int(endpoint.split(separator: ":").last!)! }
        return !cluster.busPorts.contains(port(link["local"] as! String)) && cluster.busPorts.contains(port(link["remote"] as! String))
    }

    @Test("under tcpkeep run every bus link, both directions, is ok and the outbound ones carry the shim's values")
    func underTheShim() throws {
        let cluster = try RedisCluster(ports: [7000, 7001, 7002], launcher: [Artifacts.tcpkeep, "run"] + Self.shim + ["--"])
        defer { cluster.stop() }
        let (_, links) = try busLinks(cluster)
        #expect(links.allSatisfy { $0["status"] as? String == "ok" }, "\(links)")
        let check = try runProcess([Artifacts.tcpkeep, "audit", "--port", "17000-17002", "--check"])
        #expect(check.status == 0, "\(check)")

        try requireRoot()
        let (_, exact) = try busLinks(cluster, extra: ["--exact"])
        let outbound = exact.filter { isOutbound($0, cluster) }
        #expect(outbound.count == 6)
        for link in exact {
            let options = try #require(link["options"] as? [String: Any], "\(link)")
            #expect(options["keepalive"] as? Bool == true)
            if isOutbound(link, cluster) {
                #expect(options["idle_seconds"] as? Int == 10 && options["interval_seconds"] as? Int == 2 && options["count"] as? Int == 3)
            } else {
                // Redis's own on inbound links: idle 2 x cluster-node-timeout (15 s), interval a third.
                #expect(options["idle_seconds"] as? Int == 30 && options["interval_seconds"] as? Int == 10 && options["count"] as? Int == 3, "\(options)")
            }
        }
    }

    @Test("without the shim the outbound bus links are missing keepalive and --check fails")
    func withoutTheShim() throws {
        let cluster = try RedisCluster(ports: [7010, 7011, 7012], launcher: [])
        defer { cluster.stop() }
        let (_, links) = try busLinks(cluster)
        for link in links {
            #expect(link["status"] as? String == (isOutbound(link, cluster) ? "missing" : "ok"), "\(link)")
        }
        #expect(links.filter { isOutbound($0, cluster) }.count == 6)
        let check = try runProcess([Artifacts.tcpkeep, "audit", "--port", "17010-17012", "--check"])
        #expect(check.status == 1, "\(check)")
    }
}
