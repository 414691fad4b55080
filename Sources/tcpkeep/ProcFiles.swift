import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, with its errno.
struct SystemError: Error {
    let operation: String
    let path: String
    let code: Int32

    var message: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// Reads a whole file; /proc files report size 0, so it reads until EOF.
func readFile(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError(operation: "cannot open", path: path, code: errno) }
    defer { close(fd) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 256 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw SystemError(operation: "cannot read", path: path, code: errno) }
        if count == 0 { return contents }
        contents += chunk[..<count]
    }
}

/// The target of a symbolic link, or nil.
func readLink(_ path: String, relativeTo directory: Int32 = AT_FDCWD) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
    let length = readlinkat(directory, path, &buffer, buffer.count)
    guard length > 0 else { return nil }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The names in a directory, without `.` and `..`; nil with errno set when it cannot be opened.
func directoryEntries(_ path: String) -> [String]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = entryName(entry)
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}

/// Replaces `path` with `contents` atomically: a temporary file in the same directory, synced,
/// then renamed over it, so a reader sees the old file or the new one, never a part.
func writeAtomically(_ contents: String, to path: String) throws {
    let temporary = "\(path).tcpkeep-\(getpid()).tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw Failure(message: SystemError(operation: "cannot create", path: temporary, code: errno).message, status: 2) }
    var failure = writeAll(contents, to: fd)
    if failure == 0 && fsync(fd) != 0 { failure = errno }
    close(fd)
    if failure == 0 && rename(temporary, path) != 0 { failure = errno }
    if failure != 0 {
        unlink(temporary)
        throw Failure(message: SystemError(operation: "cannot write", path: path, code: failure).message, status: 2)
    }
}
