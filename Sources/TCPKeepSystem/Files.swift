import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// The file system calls tcpkeep makes; failures are `SystemError`s.
public enum Files {
    /// The whole file, or nil when there is none.
    public static func read(_ path: String) throws(SystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw SystemError("cannot read \(path)", code: code)
        }
        defer { close(fd) }
        return try readToEnd(fd, "cannot read \(path)")
    }

    /// Everything up to end of file.
    static func readToEnd(_ fd: Int32, _ operation: @autoclosure () -> String) throws(SystemError) -> [UInt8] {
        var content: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            try checked(count, operation())
            if count == 0 { return content }
            content += buffer[..<count]
        }
    }

    public static func readText(_ path: String) throws(SystemError) -> String? {
        try read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// st_mode of a regular file, nil when there is no such file.
    public static func regularFileMode(_ path: String) -> UInt32? {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return status.st_mode
    }

    /// The names in a directory, sorted; none when it does not exist.
    public static func names(in directory: String) -> [String] {
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
    public static func readLink(_ path: String) -> String? {
        readLinkBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The target of a symbolic link as its bytes, however long, or nil. readlink cuts a target
    /// that does not fit without saying so: a result that fills the buffer is read again.
    static func readLinkBytes(_ path: String) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        while true {
            let length = buffer.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            guard length > 0 else { return nil }
            if length < buffer.count { return Array(buffer[..<length]) }
            buffer = [UInt8](repeating: 0, count: buffer.count * 2)
        }
    }

    private typealias GetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    /// Whether the file carries file capabilities. Glibc's module map leaves out sys/xattr.h, so
    /// getxattr is looked up in libc.
    public static func hasFileCapabilities(_ path: String) -> Bool {
        guard let symbol = dlsym(nil, "getxattr") else { return false }
        return unsafeBitCast(symbol, to: GetXattr.self)(path, "security.capability", nil, 0) >= 0
    }

    /// Writes `content` to `path` so that a reader sees the old file or the new one, never part
    /// of either (see `BufferedOutput`). Missing directories are made when `creatingDirectories`,
    /// else refused.
    public static func writeAtomically(_ content: String, to path: String, creatingDirectories: Bool = true) throws(SystemError) {
        var output = try BufferedOutput(replacing: path, creatingDirectories: creatingDirectories)
        output.write(content)
        try output.commit()
    }

    /// Removes a file, then its directory when that is left empty.
    public static func remove(_ path: String) throws(SystemError) {
        try checked(unlink(path), "cannot remove \(path)")
        let directory = parent(of: path)
        if names(in: directory).isEmpty { rmdir(directory) }
        syncDirectory(parent(of: directory))
    }

    /// `path` from the working directory when it is relative.
    public static func absolutePath(_ path: String) -> String {
        guard !path.hasPrefix("/"), let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }

    static func parent(of path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        return parts.count <= 1 ? "/" : parts.joined(separator: "/")
    }

    static func makeDirectories(_ path: String) throws(SystemError) {
        guard !isDirectory(path) else { return }
        try makeDirectories(parent(of: path))
        guard mkdir(path, 0o755) == 0 else {
            let code = errno
            if code == EEXIST { return }
            throw SystemError("cannot create \(path)", code: code)
        }
    }

    /// So that a rename or an unlink survives a crash.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// Writes all of `bytes`, retrying short writes: 0, or the errno of the write that failed.
func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> Int32 {
    var offset = 0
    while offset < bytes.count {
        let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return written < 0 ? errno : EIO }
        offset += written
    }
    return 0
}
