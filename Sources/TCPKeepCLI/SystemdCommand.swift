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
            could not be changed, 2 on usage errors.
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
        let path = root.root.resolve(tcpkeepDropInPath(unit))
        let pinPath = root.root.resolve(tcpkeepDropInPath(kernelPinService(unit)))
        if remove {
            // The kernel pin service's drop-in goes with the unit's, whichever mode wrote them.
            let removed = try [path, pinPath].filter { try removeGeneratedFile(at: $0) }
            guard !removed.isEmpty else {
                Output.standardOutput.write("nothing to remove: \(path) does not exist\n")
                return 0
            }
            removed.forEach { Output.standardOutput.write("removed \($0)\n") }
        } else {
            var files: [(path: String, content: String)]
            if kernel {
                let settings = try settings.settings()
                files = [(path, kernelDropIn(unit: unit, settings: settings)), (pinPath, kernelPinDropIn(unit: unit, settings: settings))]
            } else {
                let dropIn = try plannedDropIn(
                    for: unit, settings: try settings.settings(), root: root.root, library: library.checkedPath)
                dropIn.warnings.forEach(warn)
                files = [(path, dropIn.content)]
            }
            guard write else {
                // Two files (kernel mode) are each headed by where --write puts it.
                let shown = files.count == 1 ? files[0].content : files.map { "# \($0.path)\n\($0.content)" }.joined(separator: "\n")
                Output.standardOutput.write(shown)
                return 0
            }
            var changed = false
            for file in files {
                let change = try writeGeneratedFile(file.content, at: file.path)
                report(change, file.path)
                changed = changed || change != .unchanged
            }
            // Unchanged needs no reload, unless asked for: an earlier one may have failed.
            if !changed && !reload { return 0 }
        }
        guard root.root.isLiveSystem else {
            Output.standardOutput.write("It applies when the system under \(root.path!) next starts \(unit).\n")
            return 0
        }
        let restart = "systemctl restart \(unit)" + (unit.kind == .socket ? " (and its service)" : "")
        Output.standardOutput.write("To apply it: systemctl daemon-reload, then \(restart)\n")
        guard reload else { return 0 }
        try reloadSystemd(root: root.root)
        Output.standardOutput.write("reloaded systemd; restart \(unit) for its processes to load the shim\n")
        return 0
    }

    static func exitStatus(for error: any Error) -> Int32 { configurationExitStatus(for: error) }
}
