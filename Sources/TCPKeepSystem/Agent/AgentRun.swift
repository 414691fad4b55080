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
    let map = try AgentKernelMap(root: root)
    return try engine.run(mount: mount, map: map)
}
