import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Keepalive for every TCP connection of a cgroup, from the kernel: no preload (BPF sock_ops).",
        discussion: """
            A BPF sock_ops program attached to a cgroup v2 sets SO_KEEPALIVE and the values on each \
            IPv4 and IPv6 TCP connection a process of the cgroup (or of its children) makes or \
            accepts, whatever the program: static, Go, set-user-ID, in a container. Connections \
            that exist before the attachment are not changed (tcpkeep fix is for those). Needs root \
            (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN) and libbpf (the package libbpf1), opened at run time. \
            Exit status 0, or 2 when it cannot be done, with nothing left loaded, pinned or attached.
            """,
        subcommands: [KernelAttachCommand.self, KernelDetachCommand.self, KernelStatusCommand.self, KernelPinCommand.self]
    )
}

/// Which cgroup: exactly one of four ways to name it.
struct KernelTargetOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("A cgroup v2 directory: an absolute path under the cgroup v2 mount, or a path relative to it.", valueName: "path"),
        completion: .directory)
    var cgroup: String?

    @Option(help: ArgumentHelp("A systemd unit's control group.", valueName: "unit"), completion: .configurableUnits, transform: Parse.unitName)
    var unit: UnitName?

    @Option(
        help: ArgumentHelp("The cgroup of this process (how a container is named); not one in the root cgroup, which --all names.", valueName: "pid"),
        completion: .processIDs)
    var pid: Int32?

    @Flag(help: "The root cgroup: every TCP connection on the host.")
    var all = false

    func validate() throws {
        guard [cgroup != nil, unit != nil, pid != nil, all].filter({ $0 }).count == 1 else {
            throw ValidationError("name one target: --cgroup PATH, --unit NAME, --pid N or --all")
        }
    }

    var target: KernelTarget {
        if let cgroup { return .cgroup(cgroup) }
        if let unit { return .unit(unit) }
        if let pid { return .pid(pid) }
        return .all
    }
}

/// The settings kernel mode writes into its map: the timing, the user timeout, enforce.
struct KernelSettingsOptions: ParsableArguments {
    @OptionGroup var timing: TimingOptions
    @OptionGroup var timeout: UserTimeoutOption

    @Flag(help: "Rewrite a process's setsockopt() that would turn keepalive off or loosen these values.")
    var enforce = false

    func settings() throws -> KeepaliveSettings {
        try timing.resolve(userTimeout: timeout.userTimeout, enforce: enforce)
    }
}

struct KernelAttachCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Attach kernel mode to a cgroup, or change the values of its attachment there in place.")

    @OptionGroup var target: KernelTargetOptions
    @OptionGroup var settings: KernelSettingsOptions

    func execute() throws -> Int32 {
        let settings = try settings.settings()
        let attachment = try attachKernelMode(to: try cgroupDirectory(of: target.target), settings: settings)
        if setsKeepaliveAlone(settings) {
            warn("no keepalive values given: only SO_KEEPALIVE is set, and the system's timing (net.ipv4.tcp_keepalive_time, _intvl, _probes) applies")
        }
        Output.standardOutput.write(KernelStatusFormat.table.render([attachment]))
        return 0
    }
}

struct KernelDetachCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "detach",
        abstract: "Detach tcpkeep's programs from a cgroup and remove their pins; nothing else is touched.")

    @OptionGroup var target: KernelTargetOptions

    func execute() throws -> Int32 {
        try detachKernelMode(target.target)
        return 0
    }
}

struct KernelStatusCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List kernel mode's attachments: cgroup, values, enforce, program ids.",
        discussion: "Exit status 0; 1 when a pin folder could not be read (a warning names it; the others are listed).")

    @Option(help: "table or json.")
    var format: KernelStatusFormat = .table

    func execute() throws -> Int32 {
        let pins = try kernelPins()
        Output.standardOutput.write(format.render(pins.attachments))
        pins.unreadableSummaries.forEach(warn)
        return pins.unreadable.isEmpty ? 0 : 1
    }
}

struct KernelPinCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "pin",
        abstract: "Load and pin kernel mode's programs for a unit, for systemd to attach at each start.",
        discussion: """
            Run by tcpkeep-kernel@UNIT.service, which tcpkeep systemd UNIT --kernel orders before \
            the unit. Settings not given on the command line come from the shim's variables in the \
            environment (KEEPIDLE, KEEPINTVL, KEEPCNT, TCPKEEP_USER_TIMEOUT, TCPKEEP_ENFORCE), which \
            that unit's drop-in sets.
            """)

    @Option(help: ArgumentHelp("The unit whose pins to make.", valueName: "unit"), completion: .configurableUnits, transform: Parse.unitName)
    var unit: UnitName

    @OptionGroup var settings: KernelSettingsOptions

    func execute() throws -> Int32 {
        let settings = try inheritedSettings(underneath: try settings.settings())
        let attachment = try pinKernelMode(for: unit, settings: settings)
        Output.standardOutput.write(KernelStatusFormat.table.render([attachment]))
        return 0
    }
}
