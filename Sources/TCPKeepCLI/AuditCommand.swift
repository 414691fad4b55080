import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct AuditCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show which live TCP connections would hang forever if their peer vanished.",
        discussion: """
            Reads the sockets with netlink's sock_diag (as ss does; /proc/net/tcp and tcp6 when \
            netlink cannot be had, or with --source proc), maps each socket to its process and \
            systemd unit (as root with a BPF iterator over every process's open files; through \
            /proc/PID/fd without root, with --pid or --owners proc, or with a warning when the \
            iterator cannot be loaded: an old kernel, no BTF, a PID namespace of its own), and \
            classifies each ESTABLISHED connection: ok (keepalive timer pending), missing (no \
            timer: keepalive is off), too-slow (later than --max-idle), probing (probes going \
            unanswered now), unknown (a retransmit or zero-window timer hides the keepalive one). \
            Exit status: 0, or with --check 1 when a selected connection is missing keepalive or \
            too slow; 2 on errors.
            """
    )

    @Option(help: ArgumentHelp("Audit the network namespace of this process (a container's).", valueName: "pid"), completion: .processIDs)
    var netnsOf: Int32?

    @Flag(help: "Every network namespace on the host: those of /proc/*/ns/net and those bound under /run/netns.")
    var allNamespaces = false

    @Option(help: ArgumentHelp("Where to read sockets: netlink or proc (default: netlink, or proc when netlink cannot be opened).", valueName: "source"))
    var source: AuditSource?

    @Option(help: ArgumentHelp("How to find each socket's process: bpf (an iterator over every process's open files; root) or proc (every /proc/PID/fd) (default: bpf, or proc when it cannot be loaded, and with --pid).", valueName: "owners"))
    var owners: OwnerSource?

    @Flag(help: "Every TCP state, not only ESTABLISHED.")
    var all = false

    @Option(help: ArgumentHelp("Flag connections whose keepalive comes later than this: e.g. 5m.", valueName: "duration"), transform: Parse.positiveSeconds)
    var maxIdle: Int?

    @Flag(help: "Read each socket's real keepalive options through pidfd_getfd (root; Linux 5.6+).")
    var exact = false

    @Option(name: .customLong("port"), help: ArgumentHelp("A local or remote port or range, e.g. 6379 or 17000-17002; repeatable.", valueName: "port"), transform: Parse.portRange)
    var ports: [PortRange] = []

    @Option(name: .customLong("pid"), help: ArgumentHelp("Only this process's connections; repeatable.", valueName: "pid"), completion: .processIDs)
    var pids: [Int32] = []

    @Option(name: .customLong("process"), help: ArgumentHelp("Only processes of this name or executable; repeatable.", valueName: "name"))
    var processes: [String] = []

    @Option(name: .customLong("unit"), help: ArgumentHelp("Only processes of this systemd unit; repeatable.", valueName: "unit"), completion: .units, transform: Parse.anyUnitName)
    var units: [String] = []

    @Option(help: "table, json or prometheus.")
    var format: AuditFormat = .table

    @Option(help: ArgumentHelp("Write the result to this file, replacing it atomically, instead of to standard output.", valueName: "path"))
    var output: String?

    @Flag(help: "Exit 1 when a selected connection is missing keepalive or too slow.")
    var check = false

    func validate() throws {
        if allNamespaces && netnsOf != nil { throw ValidationError("--all-namespaces and --netns-of exclude each other") }
        if owners == .bpf && !pids.isEmpty {
            throw ValidationError("--owners bpf and --pid exclude each other: --pid reads those processes' descriptors alone, through /proc")
        }
    }

    func execute() throws -> Int32 {
        var selection = AuditSelection()
        selection.ports = ports
        selection.pids = Set(pids)
        selection.processes = Set(processes)
        selection.units = Set(units)
        selection.allStates = all
        let request = AuditRequest(
            netnsOf: netnsOf, allNamespaces: allNamespaces, selection: selection, maxIdle: maxIdle, exact: exact, source: source, owners: owners,
            check: check)
        var out = try FormattedAudit(format, replacing: output)
        let result = try runAudit(request, into: &out)
        result.warnings.forEach(warn)
        guard let verdict = result.verdict else { return 0 }
        if let refusal = verdict.refusal { return refuse(refusal) }
        return verdict == .fail ? 1 : 0
    }
}
