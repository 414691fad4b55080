import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct SystemdCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "systemd",
        abstract: "Print or write a systemd drop-in that turns keepalive on for a unit.",
        discussion: """
            For a service: LD_PRELOAD with the shim in front of the unit's own preload (read from its \
            unit file and drop-ins), and the settings. For a .socket unit: KeepAlive= and its timings. \
            The file is /etc/systemd/system/UNIT.d/\(tcpkeepDropInName); a file there that tcpkeep \
            did not write is never replaced or removed. Exit status 0, 1 when a file or systemd \
            could not be changed, 2 on usage errors and when --kernel --write finds no \
            tcpkeep-kernel@.service in systemd's unit folders.
            """
    )

    @Argument(help: ArgumentHelp("The unit, e.g. redis-server (a .service) or app.socket.", valueName: "unit"), completion: .configurableUnits, transform: Parse.unitName)
    var unit: UnitName

    @OptionGroup var settings: ShimSettingsOptions

    @Flag(help: "Write the file instead of printing it.")
    var write = false

    @OptionGroup var root: RootOption
    @OptionGroup var library: LibraryOption

    @Flag(help: "After --write or --remove, run systemctl daemon-reload (when systemd is running).")
    var reload = false

    @Flag(help: "Delete tcpkeep's drop-ins for the unit (and for its tcpkeep-kernel@ instance), and nothing else.")
    var remove = false

    @Flag(help: "Kernel mode instead of the shim: systemd attaches tcpkeep's BPF programs to the unit's cgroup at each start, pinned before by tcpkeep-kernel@UNIT.service (static and Go programs too). --enforce rewrites loosening setsockopt calls there.")
    var kernel = false

    func validate() throws {
        if remove && write { throw ValidationError("--write and --remove exclude each other") }
        if reload && !write && !remove { throw ValidationError("--reload needs --write or --remove") }
        if kernel && unit.kind != .service {
            throw ValidationError("--kernel is for a service; a .socket unit's sockets take KeepAlive= (tcpkeep systemd \(unit))")
        }
        if kernel && settings.log != nil { throw ValidationError("--log is the shim's; kernel mode writes nothing to the program") }
        if reload && root.path != nil {
            throw ValidationError("--reload acts on the running system, and --root says the files are another system's; leave one out")
        }
    }

    func execute() throws -> Int32 {
        let action: UnitConfigurationRequest.Action =
            if remove { .remove } else if write { .write(try settings.settings()) } else { .print(try settings.settings()) }
        let verdict = configureUnit(UnitConfigurationRequest(
            unit: unit, action: action, kernel: kernel, root: root.root, reload: reload,
            library: { [library, unit, root] in try library.checkedPath(forUnit: unit, root: root.root) }))
        switch verdict {
        case .done: return 0
        case .failed: return 1
        case .refused: return 2
        }
    }

    static func exitStatus(for error: any Error) -> Int32 { configurationExitStatus(for: error) }
}
