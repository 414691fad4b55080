import Foundation
import Testing

/// `tcpkeep audit --all-namespaces` against network namespaces of the test's own, with
/// holder processes inside them.
@Suite("tcpkeep audit --all-namespaces")
struct AuditNamespacesTests {
    @Test("every namespace is found and read from inside, each connection with its namespace's inode")
    func everyNamespace() throws {
        let first = try NetworkNamespace("nsa")
        defer { first.delete() }
        let second = try NetworkNamespace("nsb")
        defer { second.delete() }
        // A namespace no process is in, bound under /run/netns only.
        let empty = try NetworkNamespace("nsc")
        defer { empty.delete() }
        let holderA = try RunningProgram(first.command([try Artifacts.holder.get(), "4:keepalive:30", "4:none"]))
        defer { holderA.stop() }
        let holderB = try RunningProgram(second.command([try Artifacts.holder.get(), "6:none"]))
        defer { holderB.stop() }
        let inodeA = try #require(inode(of: "/run/netns/\(first.name)"))
        let inodeB = try #require(inode(of: "/run/netns/\(second.name)"))
        let inodeC = try #require(inode(of: "/run/netns/\(empty.name)"))
        #expect(inode(of: "/proc/\(holderA.pid)/ns/net") == inodeA)

        #expect(try AuditJSON(["--pid", "\(holderA.pid)"]).connections.isEmpty, "without --all-namespaces only this namespace")
        let audit = try AuditJSON(["--all-namespaces"])
        #expect(audit.result.status == 0 && audit.result.stderr.isEmpty, "\(audit.result)")
        let ofA = audit.of(holderA.pid), ofB = audit.of(holderB.pid)
        #expect(ofA.count == 4 && ofB.count == 2, "\(ofA) \(ofB)")
        #expect(ofA.allSatisfy { $0["netns"] as? Int == inodeA })
        #expect(ofB.allSatisfy { $0["netns"] as? Int == inodeB })
        let held = holderA.connections
        #expect(audit.connection(held[0].client, held[0].server)?["status"] as? String == "ok")
        #expect(audit.connection(held[1].client, held[1].server)?["status"] as? String == "missing")
        // Every namespace is said, each read with netlink from inside, the empty one too.
        let reads = Dictionary(audit.namespaces.compactMap { read in (read["netns"] as? Int).map { ($0, read) } }) { first, _ in first }
        for namespace in [inodeA, inodeB, inodeC, inode(of: "/proc/self/ns/net")!] {
            #expect(reads[namespace]?["source"] as? String == "netlink", "namespace \(namespace): \(audit.namespaces)")
        }
        #expect(Set(audit.namespaces.compactMap { $0["netns"] as? Int }).count == audit.namespaces.count, "each namespace once")

        let table = try runProcess([Artifacts.tcpkeep, "audit", "--all-namespaces", "--process", "holder"])
        #expect(table.lines.contains { $0.hasPrefix("holder (pid \(holderA.pid), ") && $0.contains(", netns \(inodeA))") }, "\(table)")
        // Other tests may add and remove namespaces meanwhile: the counts are each run's own.
        let summary = try #require(table.lines.last)
        #expect(summary.range(of: #"; \d+ network namespaces: \d+ read with netlink, 0 from /proc, 0 not read$"#, options: .regularExpression) != nil,
                "\(summary)")
        let prometheus = try runProcess([Artifacts.tcpkeep, "audit", "--all-namespaces", "--format", "prometheus"])
        #expect(prometheus.stdout.range(of: #"\ntcpkeep_network_namespaces\{source="netlink"\} [1-9][0-9]*\n"#, options: .regularExpression) != nil,
                "\(prometheus)")
        #expect(prometheus.stdout.contains("tcpkeep_network_namespaces{source=\"unreadable\"} 0\n"))

        let both = try runProcess([Artifacts.tcpkeep, "audit", "--all-namespaces", "--netns-of", "\(holderA.pid)"])
        #expect(both.status == 2 && both.stderr.contains("--all-namespaces and --netns-of exclude each other"), "\(both)")
    }

    @Test("as nobody: other namespaces through /proc/PID/net, and the summary says what could not be read")
    func unprivileged() throws {
        try requireProgram("setpriv")
        let namespace = try NetworkNamespace("nsn")
        defer { namespace.delete() }
        let empty = try NetworkNamespace("nse")
        defer { empty.delete() }
        let holder = try RunningProgram(namespace.command([try Artifacts.holder.get(), "4:keepalive:30", "4:none"]))
        defer { holder.stop() }
        let held = holder.connections
        let audit = try AuditJSON(["--all-namespaces"], prefix: asNobody)
        #expect(audit.result.status == 0, "\(audit.result)")
        // Its sockets are read through /proc/PID/net/tcp; who holds them cannot be read.
        let client = try #require(audit.connection(held[0].client, held[0].server), "\(audit.namespaces)")
        #expect(client["status"] as? String == "ok" && client["pid"] is NSNull)
        #expect(audit.connection(held[1].client, held[1].server)?["status"] as? String == "missing")
        #expect(audit.namespaces.contains { $0["source"] as? String == "proc" && ($0["note"] as? String)?.contains("not readable") == true },
                "\(audit.namespaces)")
        // The namespace no process is in cannot be entered nor read through /proc.
        #expect(audit.namespaces.contains { $0["netns"] as? Int == inode(of: "/run/netns/\(empty.name)") && $0["source"] is NSNull },
                "\(audit.namespaces)")
        #expect(audit.namespaces.first?["source"] as? String == "netlink", "its own namespace needs no rights")
        let table = try runProcess(asNobody + [Artifacts.tcpkeep, "audit", "--all-namespaces"])
        let summary = try #require(table.lines.last)
        #expect(summary.contains(" from /proc (netlink: its ns link is not readable)") && summary.contains(" not read (netlink: "), "\(summary)")
        // Nothing failing where it could look is no pass while a namespace went unread.
        let check = try runProcess(asNobody + [Artifacts.tcpkeep, "audit", "--all-namespaces", "--port", "1", "--check"])
        #expect(check.status == 2 && check.stderr.contains("network namespaces could not be read"), "\(check)")
    }
}
