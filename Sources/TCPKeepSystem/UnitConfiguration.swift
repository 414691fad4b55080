import TCPKeepCore

/// What `tcpkeep systemd` is asked to do for one unit.
public struct UnitConfigurationRequest {
    public enum Action: Sendable {
        /// Print the drop-ins `write` would write.
        case print(KeepaliveSettings)
        case write(KeepaliveSettings)
        /// Delete tcpkeep's drop-ins for the unit and for its tcpkeep-kernel@ instance.
        case remove
    }

    public var unit: UnitName
    public var action: Action
    /// Kernel mode's drop-ins (BPFProgram=, and the settings for the pin service) instead of the shim's.
    public var kernel: Bool
    public var root: RootDirectory
    /// systemctl daemon-reload after a write or a remove.
    public var reload: Bool
    /// The shim's path to preload, asked for only when a service's shim drop-in is made.
    public var library: () throws -> String

    public init(
        unit: UnitName, action: Action, kernel: Bool, root: RootDirectory, reload: Bool, library: @escaping () throws -> String
    ) {
        self.unit = unit
        self.action = action
        self.kernel = kernel
        self.root = root
        self.reload = reload
        self.library = library
    }
}

/// How a `tcpkeep systemd` run ended.
public enum UnitConfigurationVerdict: Equatable, Sendable {
    /// Printed, written, removed or left as it was, as asked.
    case done
    /// Refused before anything was written: the input, the shim or the loader unit.
    case refused
    /// A file or systemd could not be changed; what was written before the failure was said.
    case failed
}

/// Kernel mode's drop-in wants a unit systemd cannot find: nothing would pin the programs, and
/// systemd would skip BPFProgram= at each start.
public struct KernelLoaderUnitMissing: Error, CustomStringConvertible, Sendable {
    /// The unit search directories under the root, for the message.
    public let searched: String

    var problem: String {
        "systemd cannot find \(kernelLoaderTemplate) (looked in \(searched)), which pins the programs the drop-in attaches"
    }

    public var description: String { "\(problem): install tcpkeep's package (or make install) first; nothing written" }
}

/// `tcpkeep systemd`: plans the drop-ins, then prints, writes or removes them and reloads
/// systemd, saying on standard output what it did and on standard error what went wrong.
public func configureUnit(_ request: UnitConfigurationRequest) -> UnitConfigurationVerdict {
    do {
        try performConfiguration(request)
        return .done
    } catch {
        Output.standardError.write("tcpkeep: \(error)\n")
        let refused = error is SettingsError || error is ShimNotFound || error is KernelLoaderUnitMissing
        return refused ? .refused : .failed
    }
}

private func performConfiguration(_ request: UnitConfigurationRequest) throws {
    let unit = request.unit, root = request.root
    // The files written or removed.
    var changed: [String] = []
    let path = root.resolve(tcpkeepDropInPath(unit))
    let pinPath = root.resolve(tcpkeepDropInPath(kernelPinService(unit)))
    switch request.action {
    case .remove:
        // The kernel pin service's drop-in goes with the unit's, whichever mode wrote them.
        for file in [path, pinPath] {
            guard try removeGeneratedFile(at: file) else { continue }
            changed.append(file)
            Output.standardOutput.write("removed \(file)\n")
        }
        guard !changed.isEmpty else {
            Output.standardOutput.write("nothing to remove: \(path) does not exist\n")
            return
        }
    case .print(let settings):
        let files = try plannedFiles(request, settings: settings, path: path, pinPath: pinPath)
        // Two files (kernel mode) are each headed by where --write puts it.
        Output.standardOutput.write(
            files.count == 1 ? files[0].content : files.map { "# \($0.path)\n\($0.content)" }.joined(separator: "\n"))
        return
    case .write(let settings):
        let files = try plannedFiles(request, settings: settings, path: path, pinPath: pinPath)
        for file in files {
            let change = try writeGeneratedFile(file.content, at: file.path)
            Output.standardOutput.write(changeLine(change, file.path))
            if change != .unchanged { changed.append(file.path) }
        }
        // Unchanged needs no reload, unless asked for: an earlier one may have failed.
        if changed.isEmpty && !request.reload { return }
    }
    guard root.isLiveSystem else {
        Output.standardOutput.write("It applies when the system under \(root.path!) next starts \(unit).\n")
        return
    }
    let restart = "systemctl restart \(unit)" + (unit.kind == .socket ? " (and its service)" : "")
    Output.standardOutput.write("To apply it: systemctl daemon-reload, then \(restart)\n")
    guard request.reload else { return }
    try reloadSystemd(root: root)
    Output.standardOutput.write("reloaded systemd; \(afterReload(request))\n")
}

/// What happens next, once systemd has read the new files.
private func afterReload(_ request: UnitConfigurationRequest) -> String {
    let unit = request.unit
    switch request.action {
    case .remove: return "restart \(unit) for the change to reach its processes"
    case .write where request.kernel:
        return "at the next start of \(unit) (systemctl restart \(unit)), \(kernelPinService(unit)) pins the programs and systemd attaches them to its cgroup"
    default: return "restart \(unit) for its processes to load the shim"
    }
}

/// The drop-ins for the unit, with where each goes; warnings about them on standard error.
private func plannedFiles(
    _ request: UnitConfigurationRequest, settings: KeepaliveSettings, path: String, pinPath: String
) throws -> [(path: String, content: String)] {
    let unit = request.unit
    guard request.kernel else {
        let dropIn = try plannedDropIn(for: unit, settings: settings, root: request.root, library: request.library)
        dropIn.warnings.forEach(warn)
        return [(path, dropIn.content)]
    }
    if let missing = try missingKernelLoaderUnit(for: unit, root: request.root) {
        guard case .print = request.action else { throw missing }
        warn("\(missing.problem); --write refuses until it is installed")
    }
    return [(path, kernelDropIn(unit: unit, settings: settings)), (pinPath, kernelPinDropIn(unit: unit, settings: settings))]
}

/// The template every tcpkeep-kernel@ instance is made from.
let kernelLoaderTemplate = "tcpkeep-kernel@.service"

/// Why systemd under `root` could not load the pin service `unit`'s kernel drop-in wants: nil
/// when its unit file or the template is in a unit search directory.
func missingKernelLoaderUnit(for unit: UnitName, root: RootDirectory) throws(SystemError) -> KernelLoaderUnitMissing? {
    let loader = try UnitSources(unit: kernelPinService(unit), root: root)
    return loader.unitFile == nil ? KernelLoaderUnitMissing(searched: loader.searchedDirectories) : nil
}

/// What a generated file's write did, as a line of output.
public func changeLine(_ change: FileChange, _ path: String) -> String {
    change == .unchanged ? "unchanged: \(path)\n" : "wrote \(path)\n"
}
