import Foundation
import Testing

/// One run of `tcpkeep audit --format json`, parsed.
struct AuditJSON {
    let result: ProcessResult
    let connections: [[String: Any]]
    let summary: [String: Any]

    init(_ arguments: [String], prefix: [String] = []) throws {
        result = try runProcess(prefix + [Artifacts.tcpkeep, "audit", "--format", "json"] + arguments)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let parsed = try #require(object, "not JSON: \(result)")
        connections = try #require(parsed["connections"] as? [[String: Any]])
        summary = try #require(parsed["summary"] as? [String: Any])
    }

    /// The connection from local port `local` to remote port `remote`.
    func connection(_ local: Int, _ remote: Int) -> [String: Any]? {
        connections.first {
            ($0["local"] as? String)?.hasSuffix(":\(local)") == true && ($0["remote"] as? String)?.hasSuffix(":\(remote)") == true
        }
    }

    /// The connections of process `pid`.
    func of(_ pid: Int32) -> [[String: Any]] {
        connections.filter { $0["pid"] as? Int == Int(pid) }
    }

    /// How the summary says each namespace was read.
    var namespaces: [[String: Any]] { summary["namespaces"] as? [[String: Any]] ?? [] }
}

/// The inode of the file at `path` (a namespace's, for /proc/PID/ns/net or /run/netns/NAME).
func inode(of path: String) -> Int? {
    var status = stat()
    return stat(path, &status) == 0 ? Int(status.st_ino) : nil
}

/// setpriv's arguments that run a command as nobody, with no supplementary groups.
let asNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
