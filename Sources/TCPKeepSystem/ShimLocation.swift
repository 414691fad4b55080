import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Why the shim cannot be handed to LD_PRELOAD.
public struct ShimNotFound: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Finds libtcpkeep.so: `TCPKEEP_LIBRARY` when set, else beside this executable, installed or
/// in the build tree.
public func locateShim() throws(ShimNotFound) -> String {
    if let override = environmentValue("TCPKEEP_LIBRARY") {
        let path = Files.absolutePath(override)
        guard Files.regularFileMode(path) != nil, access(path, R_OK) == 0 else {
            throw ShimNotFound(description: "TCPKEEP_LIBRARY=\(override): no readable file there")
        }
        return try checkedForPreload(path)
    }
    guard let executable = Files.readLink("/proc/self/exe") else {
        throw ShimNotFound(description: "cannot read the link /proc/self/exe to find the shim")
    }
    let directory = String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)])
    let candidates = shimCandidates(executableDirectory: directory)
    guard let found = candidates.first(where: { Files.regularFileMode($0) != nil && access($0, R_OK) == 0 }) else {
        throw ShimNotFound(
            description: "cannot find libtcpkeep.so; looked in \(candidates.joined(separator: " and ")). Set TCPKEEP_LIBRARY to its path.")
    }
    return try checkedForPreload(found)
}

private func checkedForPreload(_ path: String) throws(ShimNotFound) -> String {
    if let problem = preloadPathProblem(path) {
        throw ShimNotFound(description: "the shim cannot be preloaded from \(problem)")
    }
    return path
}
