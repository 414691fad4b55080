import CLinux
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// Why this process may not reach another process's descriptors: the errno of the call the
/// kernel refused, or nil when tcpkeep refused before any call (no rights at all).
public struct PtraceRefused: Error, CustomStringConvertible, Sendable {
    public let description: String
    public var code: Int32? = nil
}

/// Refuses, before anything is touched, when this process may not reach other processes'
/// descriptors at all: neither root nor CAP_SYS_PTRACE.
func requirePtraceRights(_ what: String, verb: String = "reads") throws(PtraceRefused) {
    if yamaForbidsPtrace {
        throw PtraceRefused(description: "\(what) \(verb) other processes' sockets, which kernel.yama.ptrace_scope = 3 forbids to everyone")
    }
    guard geteuid() != 0 else { return }
    guard holdsPtraceCapability else {
        throw PtraceRefused(description: "\(what) \(verb) other processes' sockets, which needs root or CAP_SYS_PTRACE")
    }
}

var holdsPtraceCapability: Bool {
    grantsPtrace(status: (try? Files.readText("/proc/self/status")) ?? "")
}

/// Yama's ptrace_scope 3: no process may attach to another, root included, until reboot.
private var yamaForbidsPtrace: Bool {
    (try? Files.readText("/proc/sys/kernel/yama/ptrace_scope"))?.hasPrefix("3") == true
}

/// Another process's sockets, reached with pidfd_getfd (Linux 5.6+): the duplicate is the same
/// socket, so its options are the connection's own. Needs ptrace-attach rights over the process.
struct PeerSockets {
    private var pidfds: [Int32: Int32] = [:]

    /// Closes the pidfds it opened.
    mutating func close() {
        for pidfd in pidfds.values { _ = Glibc.close(pidfd) }
        pidfds = [:]
    }

    /// Runs `body` on a duplicate of the owner's descriptor, closed afterwards. Nil when the
    /// process or the descriptor is gone; throws when the system refuses the access itself.
    mutating func withDuplicate<T>(of owner: OwnerDescriptor, _ body: (Int32) -> T?) throws(PtraceRefused) -> T? {
        guard let duplicate = try duplicate(owner) else { return nil }
        defer { _ = Glibc.close(duplicate) }
        return body(duplicate)
    }

    /// A duplicate of the owner's descriptor, for the caller to close; nil when the process
    /// or the descriptor is gone. Throws when the system refuses the access itself.
    mutating func duplicate(_ owner: OwnerDescriptor) throws(PtraceRefused) -> Int32? {
        guard let pidfd = try pidfd(owner.pid) else { return nil }
        let duplicate = tcpkeep_pidfd_getfd(pidfd, owner.fd)
        guard duplicate >= 0 else {
            let code = errno
            if code == EBADF || code == ESRCH { return nil }
            throw ptraceAccessFailure(code, pid: owner.pid)
        }
        return duplicate
    }

    private mutating func pidfd(_ pid: Int32) throws(PtraceRefused) -> Int32? {
        if let known = pidfds[pid] { return known }
        let pidfd = tcpkeep_pidfd_open(pid)
        guard pidfd >= 0 else {
            let code = errno
            if code == ESRCH { return nil }
            throw ptraceAccessFailure(code, pid: pid)
        }
        pidfds[pid] = pidfd
        return pidfd
    }

    /// The keepalive options of the owner's socket, nil when its descriptor no longer refers
    /// to the TCP socket with that inode (closed and reused since the scan).
    mutating func options(of owner: OwnerDescriptor, inode: UInt64) throws(PtraceRefused) -> SocketOptions? {
        try withDuplicate(of: owner) { fd in isSameTCPSocket(fd, inode: inode) ? keepaliveOptions(fd) : nil }
    }
}

/// Whether a duplicate is still the TCP socket the scan found: same inode, and SO_DOMAIN,
/// SO_TYPE and SO_PROTOCOL say TCP.
func isSameTCPSocket(_ fd: Int32, inode: UInt64) -> Bool {
    var status = stat()
    guard fstat(fd, &status) == 0, UInt64(status.st_ino) == inode else { return false }
    return tcpkeep_is_tcp_socket(fd) == 1
}

/// The keepalive options of a socket of ours, nil when they cannot be read.
func keepaliveOptions(_ fd: Int32) -> SocketOptions? {
    var raw = tcpkeep_keepalive_options()
    guard tcpkeep_read_keepalive_options(fd, &raw) == 0 else { return nil }
    let values = raw.values
    return SocketOptions(
        keepalive: raw.keepalive != 0, idle: Int(values.0), interval: Int(values.1), count: Int(values.2),
        userTimeout: Int(values.3))
}

/// Why the system refused access to another process's descriptors.
func ptraceAccessFailure(_ code: Int32, pid: Int32) -> PtraceRefused {
    let reason: String
    switch code {
    case ENOSYS: reason = "this kernel has no pidfd_getfd (Linux 5.6 or later is needed)"
    case EPERM, EACCES:
        reason = !holdsPtraceCapability
            ? "ptrace access to pid \(pid) is refused: this process lacks CAP_SYS_PTRACE (root without it reaches only processes with no more capabilities than its own)"
            : "ptrace access to pid \(pid) is refused (kernel.yama.ptrace_scope or a security module)"
    default: reason = "pid \(pid): \(errorText(code))"
    }
    return PtraceRefused(description: reason, code: code)
}
