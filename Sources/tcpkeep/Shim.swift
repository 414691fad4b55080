import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// Finds libtcpkeep.so: `TCPKEEP_LIBRARY` when set, else beside this executable, installed or
/// in the build tree.
func locateShim() throws -> String {
    if let override = getenv("TCPKEEP_LIBRARY").map({ String(cString: $0) }) {
        let path = Files.absolutePath(override)
        guard Files.regularFileMode(path) != nil, access(path, R_OK) == 0 else {
            throw Failure(message: "TCPKEEP_LIBRARY=\(override): no readable file there", status: 2)
        }
        return try checkedForPreload(path)
    }
    let executable = try executablePath()
    let directory = String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)])
    let candidates = shimCandidates(executableDirectory: directory)
    guard let found = candidates.first(where: { Files.regularFileMode($0) != nil && access($0, R_OK) == 0 }) else {
        throw Failure(
            message: "cannot find libtcpkeep.so; looked in \(candidates.joined(separator: " and ")). Set TCPKEEP_LIBRARY to its path.",
            status: 2)
    }
    return try checkedForPreload(found)
}

private func checkedForPreload(_ path: String) throws -> String {
    if let problem = preloadPathProblem(path) {
        throw Failure(message: "the shim cannot be preloaded from \(problem)", status: 2)
    }
    return path
}

private func executablePath() throws -> String {
    guard let path = Files.readLink("/proc/self/exe") else {
        throw Failure(message: "cannot read /proc/self/exe to find the shim: \(String(cString: strerror(errno)))", status: 2)
    }
    return path
}
