import ArgumentParser
import Logging
import TCPKeepCore
import TCPKeepSystem

struct AgentCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Keep every workload of the host under a keepalive policy, as cgroups come and go; serve /metrics.",
        discussion: """
            Runs in the foreground until SIGTERM: attaches kernel mode's program once, at the \
            policy's root cgroup (the whole host by default), writes each covered cgroup's settings \
            into a BPF map by cgroup id, and keeps the map in step with the cgroup tree (inotify) \
            and with the policy file, reloaded on SIGHUP and whenever it changes. A refused reload \
            keeps the policy in force. Serves /metrics and /healthz over HTTP, by default on \
            \(ListenAddress.standard). Tells systemd READY once the policy is applied \
            (Type=notify). The program and map are pinned: stopping or killing the agent changes \
            nothing, and a restarted agent adopts them. Exit status 0 when stopped, 2 when the \
            policy or the system refuses at start.
            """)

    @Option(help: ArgumentHelp("The policy file (YAML; doc/agent.md and tcpkeep(1) give its schema).", valueName: "file"), completion: .file())
    var config: String?

    @Option(help: ArgumentHelp("Where /metrics listens, ADDRESS:PORT (an IPv4 or [IPv6] literal); overrides the policy's listen.", valueName: "address"),
        transform: { text in try ListenAddress(parsing: text) })
    var listen: ListenAddress?

    @Flag(help: "Check the policy file and exit: 0 when it is accepted, 2 naming the line and column of its first mistake.")
    var check = false

    @Flag(help: "Detach and remove the agent's program, map and pins, then exit (0 also when there is nothing).")
    var uninstall = false

    func validate() throws {
        guard (config != nil) != uninstall else {
            throw ValidationError("give --config FILE to run the agent, or --uninstall alone")
        }
        if uninstall && (listen != nil || check) { throw ValidationError("--uninstall takes no --listen or --check") }
    }

    func execute() throws -> Int32 {
        if uninstall {
            let removed = try uninstallAgent()
            Output.standardOutput.write(removed.isEmpty ? "nothing to remove: the agent has no program, map or pins\n" : removed.map { "removed \($0)\n" }.joined())
            return 0
        }
        if check {
            let policy = try checkAgentPolicy(at: config!)
            Output.standardOutput.write("\(config!): \(policy.rules.count) rules, \(policy.fallback == nil ? "no default" : "a default"): accepted\n")
            return 0
        }
        LoggingSystem.bootstrap { _ in AgentLogHandler() }
        return try runAgent(AgentConfiguration(policyPath: config!, listen: listen), logger: Logger(label: "tcpkeep.agent"))
    }
}
