import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Text written through a fixed buffer to standard output, or to a file that replaces `path`
/// atomically once `commit()` runs: a temporary file in the same directory, flushed and
/// renamed over it. Until then readers see the old file; a writer that is never committed
/// (an error on the way) removes its temporary file in `discard()`.
///
/// `write` cannot throw (TextOutputStream): the first failure is kept, later writes are
/// dropped, and `commit()` throws it.
public struct BufferedOutput: AuditOutputStream {
    private static let capacity = 64 * 1024
    private var buffer: [UInt8] = []
    private let fd: Int32
    private var failure: SystemError?
    /// For a file: its path and the temporary file's.
    private let path: String?
    private let temporary: String?
    /// Whether the file's descriptor was closed, by `commit` or `discard`: neither closes it twice.
    private var closed = false

    /// Standard output.
    public init() {
        fd = STDOUT_FILENO
        path = nil
        temporary = nil
        buffer.reserveCapacity(Self.capacity)
    }

    /// A new file replacing `path`. Its directory must exist, or is made with
    /// `creatingDirectories`.
    public init(replacing path: String, creatingDirectories: Bool = false) throws(SystemError) {
        guard !path.hasSuffix("/"), path.split(separator: "/").last != nil else {
            throw SystemError("cannot write '\(path)'", code: EISDIR)
        }
        let path = Files.absolutePath(path)
        let directory = Files.parent(of: path)
        if creatingDirectories {
            try Files.makeDirectories(directory)
        } else if !Files.isDirectory(directory) {
            throw SystemError("cannot write \(path)", code: ENOENT)
        }
        var template = Array("\(directory)/.\(path.split(separator: "/").last!).XXXXXX".utf8CString)
        fd = try checked(mkstemp(&template), "cannot create a file in \(directory)")
        temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.path = path
        buffer.reserveCapacity(Self.capacity)
    }

    public mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { write(utf8: UnsafeRawBufferPointer($0)) }
    }

    public mutating func write(utf8 bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        if buffer.count + bytes.count > Self.capacity { flush() }
        if bytes.count >= Self.capacity {
            writeOut(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    private mutating func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { writeOut($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private mutating func writeOut(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        let code = writeAll(bytes, to: fd)
        if code != 0 { failure = SystemError("cannot write \(path ?? "to standard output")", code: code) }
    }

    /// Writes out what is buffered; for a file, makes it the file at `path` (mode 0644, synced).
    public mutating func commit() throws(SystemError) {
        flush()
        guard let path, let temporary, !closed else {
            if let failure { throw failure }
            return
        }
        defer {
            close(fd)
            closed = true
        }
        do throws(SystemError) {
            if let failure { throw failure }
            try checked(fchmod(fd, 0o644), "cannot write \(path)")
            try checked(fsync(fd), "cannot write \(path)")
            try checked(rename(temporary, path), "cannot write \(path)")
        } catch {
            unlink(temporary)
            throw error
        }
        Files.syncDirectory(Files.parent(of: path))
    }

    /// Drops the temporary file of an output that will not be committed; after `commit`, which
    /// removed it already on failure, nothing.
    public mutating func discard() {
        guard let temporary, !closed else { return }
        close(fd)
        closed = true
        unlink(temporary)
    }
}
