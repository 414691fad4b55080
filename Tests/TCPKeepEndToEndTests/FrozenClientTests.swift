import Foundation
import Testing

/// A client waits for an answer; the server's host goes silent (every packet dropped by
/// nftables, as after a failover or by a firewall that lost its state). Two network namespaces
/// of the test's own, joined by a veth pair, stand for the two hosts.
@Suite("The frozen client")
struct FrozenClientTests {
    static let serverAddress = "192.0.2.1"
    static let clientAddress = "192.0.2.2"
    static let port = "7400"
    static let keepalive = ["--idle", "2s", "--interval", "1s", "--count", "3"]
    /// idle + interval x count + 2 s of slack, from the last traffic.
    static let bound: TimeInterval = 2 + 1 * 3 + 2

    /// The two hosts, a server that never answers, and a connected client, stopped and removed
    /// by the returned closure.
    func scenario(_ tag: String, client launcher: [String]) throws -> (client: RunningProgram, hosts: [NetworkNamespace], cleanUp: () -> Void) {
        let server = try NetworkNamespace("\(tag)s")
        let clientHost = try NetworkNamespace("\(tag)c")
        var running: [RunningProgram] = []
        let cleanUp = {
            running.forEach { $0.stop() }
            server.delete()
            clientHost.delete()
        }
        do {
            try server.link(to: clientHost, address: Self.serverAddress, otherAddress: Self.clientAddress, tag: tag)
            let peer = try Artifacts.peer.get()
            running.append(try RunningProgram(server.command([peer, "serve", Self.serverAddress, Self.port])))
            let client = try RunningProgram(
                clientHost.command(launcher + [peer, "ask", Self.serverAddress, Self.port]), readyLine: "connected")
            running.append(client)
            return (client, [server, clientHost], cleanUp)
        } catch {
            cleanUp()
            throw error
        }
    }

    func result(of client: RunningProgram) throws -> (errno: Int32, elapsed: TimeInterval) {
        let line = try #require(client.lines.first { $0.hasPrefix("result ") })
        let values = fields(of: line)
        return (Int32(values["errno"]!)!, Double(values["elapsed_ms"]!)! / 1000)
    }

    func dropEverything(_ hosts: [NetworkNamespace]) throws {
        for host in hosts { try host.dropEverything() }
    }

    /// The client sends its request, which is acknowledged at once, so that the connection is
    /// idle from then on; the hosts go silent; the client's result once something frees it.
    func resultAfterSilence(_ client: RunningProgram, _ hosts: [NetworkNamespace]) throws -> (errno: Int32, elapsed: TimeInterval) {
        client.send("go")
        try client.waitForLine(containing: "sent", timeout: 10)
        Thread.sleep(forTimeInterval: 0.3)
        try dropEverything(hosts)
        try client.waitForLine(containing: "result", timeout: 3 * Self.bound)
        return try result(of: client)
    }

    @Test("under tcpkeep run the blocked read fails with ETIMEDOUT within idle + interval x count + 2 s")
    func idleWithKeepalive() throws {
        let (client, hosts, cleanUp) = try scenario("ka", client: [Artifacts.tcpkeep, "run"] + Self.keepalive + ["--"])
        defer { cleanUp() }
        let (error, elapsed) = try resultAfterSilence(client, hosts)
        #expect(error == ETIMEDOUT)
        #expect(elapsed <= Self.bound, "detected after \(elapsed) s")
    }

    @Test("without the shim the client is still blocked after three times that bound")
    func idleWithoutKeepalive() throws {
        let (client, hosts, cleanUp) = try scenario("no", client: [])
        defer { cleanUp() }
        client.send("go")
        try client.waitForLine(containing: "sent", timeout: 10)
        Thread.sleep(forTimeInterval: 0.3)
        try dropEverything(hosts)
        #expect(throws: ProcessTimedOut.self) { try client.waitForLine(containing: "result", timeout: 3 * Self.bound) }
        #expect(client.process.isRunning)
    }

    @Test("with data in flight keepalive alone never fires")
    func inFlightWithKeepaliveOnly() throws {
        let (client, hosts, cleanUp) = try scenario("if", client: [Artifacts.tcpkeep, "run"] + Self.keepalive + ["--"])
        defer { cleanUp() }
        try dropEverything(hosts)
        client.send("go")
        #expect(throws: ProcessTimedOut.self) { try client.waitForLine(containing: "result", timeout: 3 * Self.bound) }
        #expect(client.process.isRunning)
    }

    @Test("with data in flight --user-timeout bounds the wait too")
    func inFlightWithUserTimeout() throws {
        let (client, hosts, cleanUp) = try scenario(
            "ut", client: [Artifacts.tcpkeep, "run"] + Self.keepalive + ["--user-timeout", "5s", "--"])
        defer { cleanUp() }
        try dropEverything(hosts)
        client.send("go")
        try client.waitForLine(containing: "result", timeout: 3 * Self.bound)
        let (error, elapsed) = try result(of: client)
        #expect(error == ETIMEDOUT)
        #expect(elapsed <= 5 + 2, "detected after \(elapsed) s")
    }
}
