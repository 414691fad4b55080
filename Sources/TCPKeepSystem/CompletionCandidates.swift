import TCPKeepCore

/// What a shell may complete where a command takes a unit or a process; each list starts with
/// `prefix`. Nothing here may fail loudly: a completion that cannot be read offers nothing.
public enum CompletionCandidates {
    /// The units systemd knows of `kinds` (all types when empty): from systemd when it runs, else
    /// from the unit files in its search directories.
    public static func units(_ kinds: Set<String> = [], prefix: String) -> [String] {
        let names: [String]
        if systemdIsRunning, let listed = try? runProgram(["systemctl", "list-unit-files", "--no-legend", "--plain"]) {
            names = listed.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        } else {
            names = unitSearchDirectories.flatMap { Files.names(in: $0) }
        }
        let wanted = names.filter { name in
            guard name.hasPrefix(prefix), let dot = name.lastIndex(of: ".") else { return false }
            return kinds.isEmpty || kinds.contains(String(name[name.index(after: dot)...]))
        }
        return Array(Set(wanted)).sorted()
    }

    /// The running processes' IDs.
    public static func processIDs(prefix: String) -> [String] {
        Files.names(in: "/proc").filter { $0.hasPrefix(prefix) && Int32($0) != nil }.sorted { Int32($0)! < Int32($1)! }
    }
}
