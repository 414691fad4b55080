import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// The file system calls the configuration commands make, with errors as `Failure`s.
enum Files {
    /// The whole file, or nil when there is none.
    static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw failure("cannot read \(path)")
        }
        defer { close(fd) }
        guard let content = readToEnd(fd) else { throw failure("cannot read \(path)") }
        return content
    }

    /// Everything up to end of file, nil on an error.
    static func readToEnd(_ fd: Int32) -> [UInt8]? {
        var content: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return content }
            content += buffer[..<count]
        }
    }

    static func readText(_ path: String) throws -> String? {
        try read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// st_mode of a regular file, nil when there is no such file.
    static func regularFileMode(_ path: String) -> UInt32? {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return status.st_mode
    }

    /// The names in a directory, sorted; none when it does not exist.
    static func names(in directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The target of a symbolic link, or nil.
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = readlink(path, &buffer, buffer.count)
        guard length > 0 else { return nil }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private typealias GetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    /// Whether the file carries file capabilities. Glibc's module map leaves out sys/xattr.h, so
    /// getxattr is looked up in libc.
    static func hasFileCapabilities(_ path: String) -> Bool {
        guard let symbol = dlsym(nil, "getxattr") else { return false }
        return unsafeBitCast(symbol, to: GetXattr.self)(path, "security.capability", nil, 0) >= 0
    }

    /// Writes `content` to `path` so that a reader sees the old file or the new one, never part
    /// of either: a temporary file in the same directory, flushed, renamed over it.
    static func writeAtomically(_ content: String, to path: String) throws {
        guard let name = path.split(separator: "/").last, !path.hasSuffix("/") else {
            throw Failure(message: "'\(path)' is not a file name", status: 1)
        }
        let path = absolutePath(path)
        let directory = parent(of: path)
        try makeDirectories(directory)
        var template = Array("\(directory)/.\(name).XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw failure("cannot create a file in \(directory)") }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let written = writeAll(content, to: fd) == 0
        let flushed = written && fchmod(fd, 0o644) == 0 && fsync(fd) == 0
        let reason = failure("cannot write \(path)")
        close(fd)
        guard flushed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw reason
        }
        syncDirectory(directory)
    }

    /// Removes a file, then its directory when that is left empty.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 else { throw failure("cannot remove \(path)") }
        let directory = parent(of: path)
        if names(in: directory).isEmpty { rmdir(directory) }
        syncDirectory(parent(of: directory))
    }

    /// `path` from the working directory when it is relative.
    static func absolutePath(_ path: String) -> String {
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    static func parent(of path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        return parts.count <= 1 ? "/" : parts.joined(separator: "/")
    }

    private static func makeDirectories(_ path: String) throws {
        guard !isDirectory(path) else { return }
        try makeDirectories(parent(of: path))
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw failure("cannot create \(path)") }
    }

    /// So that a rename or an unlink survives a crash.
    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// `message: strerror(errno)`, exit status 1.
    private static func failure(_ message: String) -> Failure {
        Failure(message: "\(message): \(String(cString: strerror(errno)))", status: 1)
    }
}

/// Runs a program to completion and returns its exit status (nil when a signal ended it) and
/// its standard output; stderr goes to ours.
func runProgram(_ arguments: [String]) throws -> (status: Int32?, output: String) {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw Failure(message: "cannot create a pipe", status: 1) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDOUT_FILENO)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    // The child keeps the write end as its stdout only, no second copy.
    if pipeEnds[1] != STDOUT_FILENO { posix_spawn_file_actions_addclose(&actions, pipeEnds[1]) }
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    close(pipeEnds[1])
    defer { close(pipeEnds[0]) }
    guard spawned == 0 else {
        throw Failure(message: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))", status: 1)
    }
    let output = Files.readToEnd(pipeEnds[0]) ?? []
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exited = status & 0x7f == 0
    return (exited ? (status >> 8) & 0xff : nil, String(decoding: output, as: UTF8.self))
}
