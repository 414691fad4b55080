import Logging
import TCPKeepCore

/// `tcpkeep agent --config FILE`: the policy read and checked, kernel mode attached at its
/// root (or the previous agent's attachment adopted), then the engine's run. A refusal before
/// the run is thrown (exit status 2).
public func runAgent(_ configuration: AgentConfiguration, logger: Logger) throws -> Int32 {
    let engine = try AgentEngine(configuration: configuration, logger: logger)
    let mount = try cgroupV2MountPoint()
    let root = engine.root.isEmpty ? mount : "\(mount)/\(engine.root)"
    guard Files.isDirectory(root) else {
        throw AgentError("the policy's root cgroup \(loggable(root)) does not exist")
    }
    let map = try AgentKernelMap(root: root, enforcing: engine.enforces)
    return try engine.run(mount: mount, map: map)
}

/// `tcpkeep agent --config FILE --check`: the policy file read and parsed, nothing else done.
public func checkAgentPolicy(at path: String) throws -> AgentPolicy {
    try agentPolicy(fromText: try readPolicyFile(path), path: path)
}

func readPolicyFile(_ path: String) throws -> String {
    guard let text = try Files.readText(path) else { throw AgentError("\(path): no such file") }
    return text
}

/// The policy in a file's text; a refusal names the file, line and column.
func agentPolicy(fromText text: String, path: String) throws(AgentError) -> AgentPolicy {
    do {
        return try parsePolicy(text)
    } catch {
        throw AgentError("\(path): \(error)")
    }
}
