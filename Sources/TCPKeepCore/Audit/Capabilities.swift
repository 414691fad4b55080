/// Whether the `CapEff` line of /proc/PID/status grants CAP_SYS_PTRACE (capability 19), which
/// reading another user's process's sockets needs when not root.
public func grantsPtrace(status text: String) -> Bool {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
        let mask = UInt64(line.dropFirst("CapEff:".count).trimmingWhitespace, radix: 16)
    else { return false }
    return mask & (1 << 19) != 0
}
