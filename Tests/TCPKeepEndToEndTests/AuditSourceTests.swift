import Foundation
import Testing

/// Where the audit reads sockets: netlink's sock_diag, /proc/net/tcp as the fallback, and the
/// two agreeing on the same live connections.
@Suite("tcpkeep audit: netlink and /proc")
struct AuditSourceTests {
    /// The fields both sources must agree on, by connection. The time left on a timer moves;
    /// a stalled connection's kernel switches between its retransmit and zero-window timers
    /// from one read to the next, and only /proc counts retransmits under the latter.
    func verdicts(_ audit: AuditJSON) -> [String: String] {
        var result: [String: String] = [:]
        for connection in audit.connections {
            let key = "\(connection["local"] ?? "") \(connection["remote"] ?? "") \(connection["state"] ?? "")"
            let inFlight = ["retransmit", "zero-window-probe"].contains(connection["timer"] as? String ?? "")
            var fields = ["status", "probes", "inode", "pid", "process"].map { "\($0)=\(connection[$0] ?? "nil")" }
            fields.append("timer=\(inFlight ? "in flight" : connection["timer"] ?? "nil")")
            result[key] = fields.joined(separator: " ")
        }
        return result
    }

    @Test("netlink and /proc give the same verdicts on the same live sockets, listeners included")
    func sourcesAgree() throws {
        let holder = try RunningProgram(
            [try Artifacts.holder.get(), "4:none", "6:keepalive:30", "mapped:keepalive:40:5:3", "4:stalled:30", "6:none"])
        defer { holder.stop() }
        let pid = ["--pid", "\(holder.pid)"]
        for extra in [[], ["--all"], ["--port", "\(holder.connections[1].server)"], ["--max-idle", "35"]] {
            // The two reads are moments apart: a socket's timer may change in between (a busy
            // host delays an ACK), so a difference is read again, both ways, a few times.
            var netlink = try AuditJSON(pid + extra + ["--source", "netlink"])
            var proc = try AuditJSON(pid + extra + ["--source", "proc"])
            for _ in 0..<5 where verdicts(netlink) != verdicts(proc) {
                netlink = try AuditJSON(pid + extra + ["--source", "netlink"])
                proc = try AuditJSON(pid + extra + ["--source", "proc"])
            }
            #expect(netlink.result.status == 0 && proc.result.status == 0, "\(netlink.result) \(proc.result)")
            #expect(!netlink.connections.isEmpty)
            let differing = Set(verdicts(netlink).keys).union(verdicts(proc).keys).filter { verdicts(netlink)[$0] != verdicts(proc)[$0] }
            #expect(differing.isEmpty, "\(extra): \(differing.map { "\($0): netlink \(verdicts(netlink)[$0] ?? "-"), proc \(verdicts(proc)[$0] ?? "-")" })")
            #expect(netlink.namespaces.first?["source"] as? String == "netlink")
            #expect(proc.namespaces.first?["source"] as? String == "proc")
            // Without --source: netlink.
            #expect(try AuditJSON(pid + extra).namespaces.first?["source"] as? String == "netlink")
        }
        let all = try AuditJSON(pid + ["--all"])
        #expect(all.connections.count == 15, "ten connected sockets and five listeners")
        let table = try runProcess([Artifacts.tcpkeep, "audit", "--source", "proc"] + pid)
        #expect(table.lines.last?.hasSuffix("; read from /proc") == true, "\(table)")
        let bad = try runProcess([Artifacts.tcpkeep, "audit", "--source", "ss"])
        #expect(bad.status == 2 && bad.stderr.contains("ss"), "\(bad)")
    }

    /// Each socket inode's PID, for the sockets both audits saw.
    func holders(_ first: AuditJSON, _ second: AuditJSON) -> (common: Int, differing: [String]) {
        func byInode(_ audit: AuditJSON) -> [Int: Int] {
            Dictionary(audit.connections.compactMap { c in (c["inode"] as? Int).map { ($0, c["pid"] as? Int ?? -1) } }.filter { $0.0 != 0 }) { a, _ in a }
        }
        let (a, b) = (byInode(first), byInode(second))
        let common = Set(a.keys).intersection(b.keys)
        return (common.count, common.filter { a[$0] != b[$0] }.map { "inode \($0): pid \(a[$0]!) vs \(b[$0]!)" })
    }

    @Test("the BPF iterator and /proc/PID/fd find the same process for every socket; nobody walks /proc without a word")
    func ownersAgree() throws {
        try requireProgram("setpriv")
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "6:keepalive:30", "4:keepalive:40"])
        defer { holder.stop() }
        // The whole host, not --pid: with PIDs selected only their descriptors are walked.
        for extra in [[], ["--all"], ["--port", "\(holder.connections[1].server)"]] {
            let bpf = try AuditJSON(extra)
            let proc = try AuditJSON(extra + ["--owners", "proc"])
            #expect(bpf.result.status == 0 && bpf.result.stderr.isEmpty, "\(bpf.result)")
            #expect(bpf.summary["owners"] as? String == "bpf" && bpf.summary["owners_note"] is NSNull, "\(bpf.summary)")
            #expect(proc.summary["owners"] as? String == "proc" && proc.summary["owners_note"] is NSNull, "\(proc.summary)")
            #expect(try AuditJSON(extra + ["--owners", "bpf"]).summary["owners"] as? String == "bpf")
            let compared = holders(bpf, proc)
            #expect(compared.common >= (extra.first == "--port" ? 2 : 6), "\(extra): \(compared.common) sockets in both")
            #expect(compared.differing.isEmpty, "\(extra): \(compared.differing)")
            // Both ends of three connections, and with --all the three listeners.
            let expected = ["--port": 2, "--all": 9][extra.first ?? ""] ?? 6
            let inodes = { (audit: AuditJSON) in Set(audit.of(holder.pid).compactMap { $0["inode"] as? Int }) }
            #expect(inodes(bpf).count == expected && inodes(bpf) == inodes(proc), "\(extra): \(inodes(bpf)) \(inodes(proc))")
        }

        // nobody may not load BPF: the walk, as before, and nothing said of the iterator.
        let nobody = try AuditJSON([], prefix: asNobody)
        #expect(nobody.result.status == 0 && nobody.result.stderr.isEmpty, "\(nobody.result)")
        #expect(nobody.summary["owners"] as? String == "proc" && nobody.summary["owners_note"] is NSNull, "\(nobody.summary)")
        // Asked for the iterator by name, nobody gets an error rather than the walk.
        let forced = try runProcess(asNobody + [Artifacts.tcpkeep, "audit", "--owners", "bpf"])
        #expect(forced.status == 2 && forced.stdout.isEmpty, "\(forced)")
        #expect(forced.stderr == "tcpkeep: BPF iterator: not privileged (it needs root, or CAP_BPF and CAP_PERFMON)\n", "\(forced)")
        let withPID = try runProcess([Artifacts.tcpkeep, "audit", "--owners", "bpf", "--pid", "\(holder.pid)"])
        #expect(withPID.status == 2 && withPID.stderr.contains("--owners bpf and --pid exclude each other"), "\(withPID)")
        let badOwners = try runProcess([Artifacts.tcpkeep, "audit", "--owners", "ss"])
        #expect(badOwners.status == 2 && badOwners.stderr.contains("--owners"), "\(badOwners)")
    }

    @Test("in a PID namespace of its own, where the iterator's PIDs would not be its, the audit walks /proc and says why")
    func ownersInPIDNamespace() throws {
        try requireProgram("unshare")
        let contained = try runProcess(["unshare", "--pid", "--fork", "--mount-proc", Artifacts.tcpkeep, "audit", "--all"])
        #expect(contained.status == 0, "\(contained)")
        let why = "this process runs in a PID namespace of its own, and the iterator gives the host's PIDs"
        #expect(contained.stderr == "tcpkeep: warning: BPF iterator: \(why): found processes through /proc/PID/fd instead\n", "\(contained)")
        #expect(contained.lines.last?.contains("; processes found through /proc/PID/fd (BPF iterator: \(why)); read with netlink") == true, "\(contained)")
        let forced = try runProcess(["unshare", "--pid", "--fork", "--mount-proc", Artifacts.tcpkeep, "audit", "--owners", "bpf"])
        #expect(forced.status == 2 && forced.stderr == "tcpkeep: BPF iterator: \(why)\n", "\(forced)")
    }

    @Test("--netns-of from inside the namespace as root; as nobody through /proc/PID/net, and it says so")
    func otherNamespace() throws {
        try requireProgram("setpriv")
        let namespace = try NetworkNamespace("source")
        defer { namespace.delete() }
        let holder = try RunningProgram(namespace.command([try Artifacts.holder.get(), "4:keepalive:30", "4:none"]))
        defer { holder.stop() }
        let netnsOf = ["--netns-of", "\(holder.pid)", "--pid", "\(holder.pid)"]
        let root = try AuditJSON(netnsOf)
        #expect(root.namespaces.first?["source"] as? String == "netlink" && root.result.stderr.isEmpty, "\(root.result)")
        #expect(root.connections.count == 4)
        #expect(verdicts(root) == verdicts(try AuditJSON(netnsOf + ["--source", "proc"])))

        // nobody may not enter the namespace, but may read /proc/PID/net/tcp.
        let nobody = try AuditJSON(["--netns-of", "\(holder.pid)"], prefix: asNobody)
        #expect(nobody.result.status == 0, "\(nobody.result)")
        #expect(nobody.namespaces.first?["source"] as? String == "proc")
        #expect((nobody.namespaces.first?["note"] as? String)?.contains("Permission denied") == true, "\(nobody.namespaces)")
        #expect(nobody.result.stderr == "tcpkeep: warning: netlink: cannot open /proc/\(holder.pid)/ns/net: Permission denied: read /proc instead\n", "\(nobody.result)")
        #expect(nobody.connections.count == 4 && nobody.connections.allSatisfy { $0["pid"] is NSNull })
        #expect(Set(nobody.connections.map { $0["status"] as? String ?? "" }) == ["ok", "missing"])
        let table = try runProcess(asNobody + [Artifacts.tcpkeep, "audit", "--netns-of", "\(holder.pid)"])
        #expect(table.lines.last?.hasSuffix("; read from /proc (netlink: cannot open /proc/\(holder.pid)/ns/net: Permission denied)") == true, "\(table)")
        // Asked for netlink, nobody gets an error rather than another source.
        let forced = try runProcess(asNobody + [Artifacts.tcpkeep, "audit", "--netns-of", "\(holder.pid)", "--source", "netlink"])
        #expect(forced.status == 2 && forced.stderr == "tcpkeep: netlink: cannot open /proc/\(holder.pid)/ns/net: Permission denied\n", "\(forced)")
    }

    @Test("a namespace heavy with TIME_WAIT: the established audit sees only the established, from either source")
    func timeWait() throws {
        try requireProgram("python3")
        let namespace = try NetworkNamespace("timewait")
        defer { namespace.delete() }
        // 3000 loopback connections, each closed by its client first: 3000 TIME_WAIT sockets.
        let churn = try runProcess(namespace.command(["python3", "-c", """
            import socket
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(4096)
            for _ in range(3000):
                client = socket.create_connection(listener.getsockname())
                server, _ = listener.accept()
                client.close()
                server.close()
            """]))
        #expect(churn.status == 0, "\(churn)")
        let holder = try RunningProgram(namespace.command([try Artifacts.holder.get(), "4:keepalive:30", "6:none"]))
        defer { holder.stop() }
        let held = holder.connections
        for source in ["netlink", "proc"] {
            let established = try AuditJSON(["--netns-of", "\(holder.pid)", "--source", source])
            #expect(established.connections.count == 4, "\(source): \(established.connections.count)")
            #expect(established.connections.allSatisfy { $0["state"] as? String == "ESTABLISHED" })
            #expect(established.connection(held[0].client, held[0].server)?["status"] as? String == "ok")
            #expect(established.connection(held[1].client, held[1].server)?["status"] as? String == "missing")
            #expect(established.summary["unmapped_sockets"] as? Int == 0)
            let everything = try AuditJSON(["--netns-of", "\(holder.pid)", "--source", source, "--all"])
            let timeWait = everything.connections.filter { $0["state"] as? String == "TIME_WAIT" }
            #expect(timeWait.count >= 2900, "\(source): \(timeWait.count) TIME_WAIT")
            #expect(timeWait.allSatisfy { $0["status"] as? String == "unknown" && $0["inode"] as? Int == 0 })
            // TIME_WAIT sockets have no inode: they are not counted as unmapped.
            #expect(everything.summary["unmapped_sockets"] as? Int == 0)
        }
        let port = try AuditJSON(["--netns-of", "\(holder.pid)", "--port", "\(held[1].server)"])
        #expect(port.connections.count == 2)
    }
}
