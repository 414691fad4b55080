import Foundation
import Testing

/// What kernel mode can prove it did: the counters of an attachment, read by `kernel status`
/// and exported by the audit, against dead peers made for real. Clients in an attached cgroup
/// talk to servers in another network namespace, which then drops every packet (nftables); a
/// cgroup beside it, not attached, holds a client that keepalive frees too (through the shim); a
/// second attachment's client counts in its own attachment only.
@Suite("Kernel mode's evidence", .serialized)
struct KernelEvidenceTests {
    static let frozenClients = 3
    static let firstPort = 7410

    /// `peer serve` accepts one connection: one server per client.
    func servers(_ count: Int, on host: NetworkNamespace) throws -> [RunningProgram] {
        let peer = try Artifacts.staticPeer.get()
        return try (0..<count).map { index in
            try RunningProgram(host.command([peer, "serve", FrozenClientTests.serverAddress, "\(Self.firstPort + index)"]))
        }
    }

    func ask(_ port: Int, in cgroup: KernelModeTests.TestCgroup, on host: NetworkNamespace, launcher: [String] = [], peer: String) throws -> RunningProgram {
        // Into the cgroup first: ip netns exec mounts a /sys of its own, without the cgroup tree.
        try RunningProgram(
            cgroup.command(host.command(launcher + [peer, "ask", FrozenClientTests.serverAddress, "\(port)"])), readyLine: "connected")
    }

    @Test("3 frozen clients in an attached cgroup are freed within the bound and counted timed_out, exactly; a normal close and a cgroup beside it count nothing; a second attachment counts its own client alone; status and the audit's Prometheus output carry the counters")
    func deadPeersAreCounted() throws {
        try requireProgram("nft")
        let attached = try KernelModeTests.TestCgroup("evidence")
        defer { attached.remove() }
        let beside = try KernelModeTests.TestCgroup("beside")
        defer { beside.remove() }
        let second = try KernelModeTests.TestCgroup("second")
        defer { second.remove() }
        for cgroup in [attached, second] {
            let attach = try runProcess([Artifacts.tcpkeep, "kernel", "attach", "--cgroup", cgroup.relative] + FrozenClientTests.keepalive)
            try #require(attach.status == 0, "\(attach)")
        }

        let server = try NetworkNamespace("evs"), clientHost = try NetworkNamespace("evc")
        var programs: [RunningProgram] = []
        defer {
            programs.forEach { $0.stop() }
            server.delete()
            clientHost.delete()
        }
        try server.link(to: clientHost, address: FrozenClientTests.serverAddress, otherAddress: FrozenClientTests.clientAddress, tag: "ev")
        programs += try servers(Self.frozenClients + 3, on: server)
        let staticPeer = try Artifacts.staticPeer.get()
        let frozen = try (0..<Self.frozenClients).map { try ask(Self.firstPort + $0, in: attached, on: clientHost, peer: staticPeer) }
        programs += frozen
        // A connection of the attached cgroup that ends normally (its process exits: FIN) before
        // the peer goes silent.
        let closed = try ask(Self.firstPort + Self.frozenClients, in: attached, on: clientHost, peer: staticPeer)
        closed.stop()
        // The cgroup beside it: keepalive from the shim, so its client times out too, outside
        // the attachment.
        let neighbour = try ask(
            Self.firstPort + Self.frozenClients + 1, in: beside, on: clientHost,
            launcher: [Artifacts.tcpkeep, "run"] + FrozenClientTests.keepalive + ["--"], peer: try Artifacts.peer.get())
        programs.append(neighbour)
        let secondClient = try ask(Self.firstPort + Self.frozenClients + 2, in: second, on: clientHost, peer: staticPeer)
        programs.append(secondClient)

        for client in frozen + [neighbour, secondClient] {
            client.send("go")
            try client.waitForLine(containing: "sent", timeout: 10)
        }
        // The requests are acknowledged at once; from then on the connections are idle.
        Thread.sleep(forTimeInterval: 0.3)
        try server.dropEverything()
        try clientHost.dropEverything()
        for client in frozen + [neighbour, secondClient] {
            try client.waitForLine(containing: "result", timeout: 3 * FrozenClientTests.bound)
            let values = fields(of: try #require(client.lines.first { $0.hasPrefix("result ") }))
            #expect(Int32(values["errno"]!) == ETIMEDOUT, "\(values)")
            #expect(Double(values["elapsed_ms"]!)! / 1000 <= FrozenClientTests.bound, "\(values)")
        }

        let attachments = try kernelStatusAttachments()
        let entry = try #require(attachments.first { $0["cgroup"] as? String == attached.path }, "\(attachments)")
        let counters = try #require(entry["counters"] as? [String: Any], "\(attachments)")
        #expect(counters["timed_out"] as? Int == Self.frozenClients, "\(counters)")
        // Every connection of the cgroup was given keepalive at connect; none kept its own.
        #expect(counters["configured_active"] as? Int == Self.frozenClients + 1, "\(counters)")
        #expect(counters["configured_passive"] as? Int == 0 && counters["kept"] as? Int == 0 && counters["enforced"] as? Int == 0, "\(counters)")
        #expect(attachments.allSatisfy { $0["cgroup"] as? String != beside.path }, "the cgroup beside has an attachment: \(attachments)")
        let secondEntry = try #require(attachments.first { $0["cgroup"] as? String == second.path }, "\(attachments)")
        let secondCounters = try #require(secondEntry["counters"] as? [String: Any], "\(attachments)")
        #expect(secondCounters["timed_out"] as? Int == 1 && secondCounters["configured_active"] as? Int == 1, "\(secondCounters)")

        let table = try runProcess([Artifacts.tcpkeep, "kernel", "status"])
        let row = try #require(table.lines.first { $0.contains(attached.path) }, "\(table)")
        #expect(table.lines.first?.contains("TIMED_OUT") == true && row.contains("4 out, 0 in"), "\(table)")

        let audit = try runProcess([Artifacts.tcpkeep, "audit", "--format", "prometheus"])
        #expect(audit.status == 0, "\(audit)")
        let cgroupLabel = "cgroup=\"/\(attached.relative)\""
        let timedOut = audit.lines.filter { $0.hasPrefix("tcpkeep_kernel_connections_timed_out_total{") && $0.contains(cgroupLabel) }
        #expect(timedOut.count == 1 && timedOut.first?.hasSuffix(" \(Self.frozenClients)") == true, "\(audit.stdout)")
        #expect(!audit.stdout.contains("cgroup=\"/\(beside.relative)\""), "\(audit.stdout)")
        let directory = Artifacts.scratch.appendingPathComponent("evidence-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let metrics = directory.appendingPathComponent("tcpkeep.prom").path
        try audit.stdout.write(toFile: metrics, atomically: true, encoding: .utf8)
        try requireProgram("promtool")
        let lint = try runProcess(["sh", "-c", "promtool check metrics < \"$0\"", metrics])
        #expect(lint.status == 0 && lint.stderr.isEmpty, "\(lint)")
    }
}
