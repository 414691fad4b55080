import CLinux
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

/// Refuses, before anything is touched, when this process may not reach other processes'
/// descriptors at all: neither root nor CAP_SYS_PTRACE.
func requirePtraceRights(_ what: String) throws {
    guard geteuid() != 0 else { return }
    let status = (try? Files.readText("/proc/self/status")).flatMap { $0 } ?? ""
    guard grantsPtrace(status: status) else {
        throw Failure(message: "\(what) reads other processes' sockets, which needs root or CAP_SYS_PTRACE", status: 2)
    }
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

    /// Runs `body` on a duplicate of the holder's descriptor, closed afterwards. Nil when the
    /// process or the descriptor is gone; throws when the system refuses the access itself.
    mutating func withDuplicate<T>(of holder: SocketHolder, _ body: (Int32) throws -> T?) throws -> T? {
        guard let pidfd = try pidfd(holder.pid) else { return nil }
        let duplicate = tcpkeep_pidfd_getfd(pidfd, holder.fd)
        guard duplicate >= 0 else {
            if errno == EBADF || errno == ESRCH { return nil }
            throw accessFailure(errno, pid: holder.pid)
        }
        defer { _ = Glibc.close(duplicate) }
        return try body(duplicate)
    }

    private mutating func pidfd(_ pid: Int32) throws -> Int32? {
        if let known = pidfds[pid] { return known }
        let pidfd = tcpkeep_pidfd_open(pid)
        guard pidfd >= 0 else {
            if errno == ESRCH { return nil }
            throw accessFailure(errno, pid: pid)
        }
        pidfds[pid] = pidfd
        return pidfd
    }

    private func accessFailure(_ code: Int32, pid: Int32) -> Failure {
        let reason: String
        switch code {
        case ENOSYS: reason = "this kernel has no pidfd_getfd (Linux 5.6 or later is needed)"
        case EPERM, EACCES:
            reason = geteuid() == 0
                ? "ptrace access to pid \(pid) is refused (kernel.yama.ptrace_scope or a security module)"
                : "reading another process's sockets needs root or CAP_SYS_PTRACE"
        default: reason = "pid \(pid): \(String(cString: strerror(code)))"
        }
        return Failure(message: reason, status: 2)
    }

    /// The keepalive options of the holder's socket.
    mutating func options(of holder: SocketHolder) throws -> SocketOptions? {
        try withDuplicate(of: holder) { fd in
            var raw = tcpkeep_keepalive_options()
            guard tcpkeep_read_keepalive_options(fd, &raw) == 0 else { return nil }
            return SocketOptions(
                keepalive: raw.keepalive != 0, idle: Int(raw.idle), interval: Int(raw.interval),
                count: Int(raw.count), userTimeout: Int(raw.user_timeout))
        }
    }
}
