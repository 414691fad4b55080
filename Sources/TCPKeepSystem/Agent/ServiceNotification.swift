#if canImport(Glibc)
import Glibc
#endif

/// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram of `KEY=VALUE`
/// lines to the unix socket $NOTIFY_SOCKET names (a path, or `@` for the abstract namespace).
/// Without the variable, as outside a Type=notify unit, nothing is sent.
public struct ServiceNotification: Sendable {
    private let socketPath: [UInt8]?

    public init(environment variable: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) {
        socketPath = variable.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
    }

    /// Sends the lines; false when there is no socket to send to. A failed send is an error:
    /// systemd would otherwise wait out its start timeout.
    @discardableResult
    public func send(_ state: String) throws(SystemError) -> Bool {
        guard var path = socketPath else { return false }
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { throw SystemError("NOTIFY_SOCKET is longer than a socket path can be", code: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let fd = try checked(socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "cannot make a socket for NOTIFY_SOCKET")
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                Array(state.utf8).withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        try checked(sent, "cannot notify systemd through NOTIFY_SOCKET")
        return true
    }
}
