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

    struct CommandFailed: Error, CustomStringConvertible {
        let result: ProcessResult
        var description: String { "\(result)" }
    }

    private static func check(_ result: ProcessResult) throws {
        guard result.status == 0 else { throw CommandFailed(result: result) }
    }
}
