/// The systemd unit a process belongs to, from the text of /proc/PID/cgroup: the innermost
/// unit in its path (`0::/system.slice/redis-server.service` is redis-server.service). The
/// systemd hierarchy of a hybrid or legacy setup (`name=systemd`) is preferred to the unified
/// one. Nil when the path names no unit, as when systemd does not manage the process.
public func systemdUnit(fromCgroup text: String) -> String? {
    var unified: String? = nil
    var legacy: String? = nil
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { continue }
        if parts[1] == "name=systemd" { legacy = String(parts[2]) }
        if parts[0] == "0" && parts[1].isEmpty { unified = String(parts[2]) }
    }
    guard let path = legacy ?? unified else { return nil }
    return path.split(separator: "/").last(where: isUnitName).map(String.init)
}

private let unitSuffixes = [".service", ".scope", ".socket", ".mount", ".swap"]

private func isUnitName(_ component: Substring) -> Bool {
    unitSuffixes.contains { component.hasSuffix($0) && component.count > $0.count }
}
