import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Why the shim cannot be handed to LD_PRELOAD.
public struct ShimNotFound: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Finds libtcpkeep.so for `abi`: `TCPKEEP_LIBRARY` when set (refused when it is a shim of
/// another ABI), else beside this executable, installed or in the build tree.
public func locateShim(for abi: ShimABI = .native) throws(ShimNotFound) -> String {
    if let override = environmentValue("TCPKEEP_LIBRARY") {
        let path = Files.absolutePath(override)
        guard Files.regularFileMode(path) != nil, access(path, R_OK) == 0 else {
            throw ShimNotFound(description: "TCPKEEP_LIBRARY=\(override): no readable file there")
        }
        if let bytes = try? Files.read(path), let built = libraryShimABI(bytes), built != abi {
            throw ShimNotFound(description: "TCPKEEP_LIBRARY=\(override) is the \(built) shim")
        }
        return try checkedForPreload(path)
    }
    guard let executable = Files.readLink("/proc/self/exe") else {
        throw ShimNotFound(description: "cannot read the link /proc/self/exe to find the shim")
    }
    let directory = String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)])
    let candidates = shimCandidates(executableDirectory: directory, for: abi)
    guard let found = candidates.first(where: { Files.regularFileMode($0) != nil && access($0, R_OK) == 0 }) else {
        guard abi == .native else {
            // The other candidate is a build tree's, through a bundle an installed tcpkeep lacks.
            let installed = abi.architecture == ShimABI.native.architecture ? "not found at \(candidates[0])" : "not installed with this \(ShimABI.native.architecture) tcpkeep"
            throw ShimNotFound(description: "\(installed); set TCPKEEP_LIBRARY to its path")
        }
        throw ShimNotFound(
            description: "cannot find libtcpkeep.so; looked in \(candidates.joined(separator: " and ")). Set TCPKEEP_LIBRARY to its path.")
    }
    // The build tree's path through the bundle, without its "..".
    return try checkedForPreload(found.contains("/../") ? canonicalPath(found) : found)
}

/// The shim `tcpkeep run` preloads into `program` (a command name is searched in PATH): the one
/// for the program's ABI, judged from its ELF file (a script's, its interpreter's). A program
/// that cannot be judged here gets the native shim, and exec says what is wrong with it.
public func locateShim(forProgram program: String) throws(ShimNotFound) -> String {
    guard let abi = programABI(program), abi != .native else { return try locateShim() }
    do {
        return try locateShim(for: abi)
    } catch {
        throw ShimNotFound(description: shimMismatch(program: program, needs: abi, problem: error.description))
    }
}

/// The shim a unit's drop-in preloads: the one for the ABI of the program its ExecStart= runs
/// (for a script, its interpreter's), found under `root`. A program that cannot be judged there
/// (no unit file, not found, not a dynamically linked ELF file) gets the native shim, as
/// `tcpkeep run` gives it, since the unit may be written before its program is installed.
public func locateShim(forUnit unit: UnitName, root: RootDirectory) throws(ShimNotFound) -> String {
    guard let program = try? UnitSources(unit: unit, root: root).program,
          let checked = try? checkUnitProgram(program, root: root),
          let head = fileHead(checked.interpreter ?? checked.path),
          case .success(let abi) = programShimABI(head), abi != .native
    else { return try locateShim() }
    do {
        return try locateShim(for: abi)
    } catch {
        throw ShimNotFound(description: shimMismatch(program: program, needs: abi, problem: error.description))
    }
}

/// The installed shim for `abi`, or nil; for doctor.
public func installedShim(for abi: ShimABI) -> String? { try? locateShim(for: abi) }

/// The ABI of the program a command runs, when it is a dynamically linked ELF file of a known
/// architecture and loader (for a script, its interpreter's, through the kernel's few levels).
func programABI(_ program: String) -> ShimABI? {
    let searchPath = environmentValue("PATH") ?? "/usr/bin:/bin"
    guard var path = commandCandidates(program, searchPath: searchPath)
        .first(where: { Files.regularFileMode($0) != nil && access($0, X_OK) == 0 })
    else { return nil }
    for _ in 0..<5 {
        guard let head = fileHead(path) else { return nil }
        switch programFile(head) {
        case .elf: return try? programShimABI(head).get()
        case .script(let interpreter, let argument):
            guard let runner = try? scriptRunner(path, interpreter: interpreter, argument: argument, root: RootDirectory(nil), searchPath: searchPath)
            else { return nil }
            path = runner
        case .other: return nil
        }
    }
    return nil
}

/// The first 64 KiB of a file: where an ELF file's header, program headers and loader path are
/// (a program can be hundreds of megabytes, and `tcpkeep run` reads this at each start).
func fileHead(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: 65536)
    var count = 0
    while count < head.count {
        let read = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + count, $0.count - count, off_t(count)) }
        if read < 0 && errno == EINTR { continue }
        guard read > 0 else { break }
        count += read
    }
    return count > 0 ? Array(head[..<count]) : nil
}

private func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

private func checkedForPreload(_ path: String) throws(ShimNotFound) -> String {
    if let problem = preloadPathProblem(path) {
        throw ShimNotFound(description: "the shim cannot be preloaded from \(problem)")
    }
    return path
}
