import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// Finds libtcpkeep.so: `TCPKEEP_LIBRARY` when set, else beside this executable, installed or
/// in the build tree.
func locateShim() throws -> String {
    if let override = getenv("TCPKEEP_LIBRARY").map({ String(cString: $0) }) {
        let path = absolutePath(override)
        guard isReadableFile(path) else {
            throw Failure(message: "TCPKEEP_LIBRARY=\(override): no readable file there", status: 2)
        }
        return try checkedForPreload(path)
    }
    let executable = try executablePath()
    let directory = String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)])
    let candidates = shimCandidates(executableDirectory: directory)
    guard let found = candidates.first(where: isReadableFile) else {
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

private func isReadableFile(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && access(path, R_OK) == 0
}

private func executablePath() throws -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else {
        throw Failure(message: "cannot read /proc/self/exe to find the shim: \(String(cString: strerror(errno)))", status: 2)
    }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func absolutePath(_ path: String) -> String {
    guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
    defer { free(cwd) }
    return String(cString: cwd) + "/" + path
}
