import Foundation
import Testing

/// A network namespace of the test's own, with loopback up, deleted by `delete()` (in a `defer`,
/// so also when the test fails). Its traffic and its nftables rules never touch the host's.
final class NetworkNamespace {
    let name: String

    init(_ purpose: String) throws {
        try requireRoot()
        try requireProgram("ip")
        name = "tcpkeep-\(purpose)-\(getpid())"
        _ = try runProcess(["ip", "netns", "delete", name])
        try Self.check(try runProcess(["ip", "netns", "add", name]))
        try Self.check(try runProcess(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]))
    }

    /// `arguments` run inside the namespace.
    func command(_ arguments: [String]) -> [String] {
        ["ip", "netns", "exec", name] + arguments
    }

    /// Drops every packet arriving in the namespace, as a dead peer or a stateful firewall would.
    func dropEverything() throws {
        try requireProgram("nft")
        try Self.check(try runProcess(command([
            "nft", "add table inet tcpkeep_test; add chain inet tcpkeep_test input { type filter hook input priority 0; policy drop; }",
        ])))
    }

    func delete() {
        _ = try? runProcess(["ip", "netns", "delete", name])
    }

    /// Joins this namespace to `other` with a veth pair, `address` here and `otherAddress`
    /// there, both in one /24. The pair goes away with either namespace.
    func link(to other: NetworkNamespace, address: String, otherAddress: String, tag: String) throws {
        // Interface names have 15 characters at most.
        let here = "tk\(tag)\(getpid() % 100_000)a", there = "tk\(tag)\(getpid() % 100_000)b"
        try Self.check(try runProcess(["ip", "link", "add", here, "netns", name, "type", "veth", "peer", "name", there, "netns", other.name]))
        for (namespace, interface, ip) in [(self, here, address), (other, there, otherAddress)] {
            try Self.check(try runProcess(namespace.command(["ip", "addr", "add", "\(ip)/24", "dev", interface])))
            try Self.check(try runProcess(namespace.command(["ip", "link", "set", interface, "up"])))
        }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let result: ProcessResult
        var description: String { "\(result)" }
    }

    private static func check(_ result: ProcessResult) throws {
        guard result.status == 0 else { throw CommandFailed(result: result) }
    }
}
