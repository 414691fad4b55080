/// What `tcpkeep doctor` looked at.
public struct DoctorTarget: Equatable, Sendable {
    public enum Kind: String, Sendable { case program, process, unit }

    public var kind: Kind
    /// What the user named: a path or command, a PID, a unit.
    public var name: String
    /// The program file judged, when one was found.
    public var path: String?
    /// The process looked at: the one named, or the unit's main process.
    public var pid: Int32?
    public var unit: String?

    public init(kind: Kind, name: String, path: String? = nil, pid: Int32? = nil, unit: String? = nil) {
        self.kind = kind
        self.name = name
        self.path = path
        self.pid = pid
        self.unit = unit
    }
}

/// The settings a running process works with, where they could be read.
public struct DoctorSettings: Equatable, Sendable {
    /// The shim's variables in /proc/PID/environ, in `shimVariableNames` order; nil when the
    /// environment could not be read.
    public var environment: [ShimVariable]?
    /// The distinct options its connections have, read with pidfd_getfd; nil when not read.
    public var sockets: [SocketOptionsGroup]?

    public init(environment: [ShimVariable]?, sockets: [SocketOptionsGroup]?) {
        self.environment = environment
        self.sockets = sockets
    }
}

public struct ShimVariable: Equatable, Sendable {
    public let name: String
    public let value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Connections that share the same options.
public struct SocketOptionsGroup: Equatable, Sendable {
    public let options: SocketOptions
    public let connections: Int
}

/// `tcpkeep doctor`'s findings.
public struct DoctorReport: Equatable, Sendable {
    public var target: DoctorTarget
    public var obstacles: [PreloadObstacle]
    /// Whether the process has the shim mapped; nil when no process was looked at.
    public var shimLoaded: Bool?
    /// Its connections' keepalive, counted by status.
    public var connections: AuditSummary?
    public var settings: DoctorSettings?
    /// tcpkeep's kernel-mode attachment whose program runs for the process's sockets.
    public var kernel: KernelAttachment?
    /// Things the user should know that change no verdict.
    public var notes: [String]

    public init(
        target: DoctorTarget, obstacles: [PreloadObstacle], shimLoaded: Bool? = nil, connections: AuditSummary? = nil,
        settings: DoctorSettings? = nil, notes: [String] = []
    ) {
        self.target = target
        self.obstacles = obstacles
        self.shimLoaded = shimLoaded
        self.connections = connections
        self.settings = settings
        self.notes = notes
    }

    /// Whether tcpkeep reaches the target. Kernel mode covering a process's cgroup reaches it,
    /// whatever the program. Else, for a process, what is loaded decides: the shim in its maps
    /// reaches the sockets it creates through libc, which a Go program does not use. For a
    /// program file, any obstacle may keep the shim out.
    public var reachable: Bool {
        if kernel != nil { return true }
        guard let shimLoaded else { return obstacles.isEmpty }
        return shimLoaded && !obstacles.contains(.goProgram) && !obstacles.contains(.staticallyLinked)
    }
}

extension DoctorReport {
    /// The report with kernel mode named, in the command for its target, where an obstacle
    /// keeps the shim out and kernel mode does not cover it yet.
    public func advisingKernelMode() -> DoctorReport {
        guard !obstacles.isEmpty && kernel == nil else { return self }
        var report = self
        report.notes.append(kernelModeAdvice(target))
        return report
    }
}

/// Kernel mode, which reaches what LD_PRELOAD cannot, in the command for this target.
public func kernelModeAdvice(_ target: DoctorTarget) -> String {
    let command = switch target.kind {
    case .process: "tcpkeep kernel attach --pid \(target.pid ?? 0)"
    case .unit: "tcpkeep systemd \(target.unit ?? target.name) --kernel --write"
    case .program: "tcpkeep kernel attach --cgroup CGROUP (the cgroup it runs in), or for a service tcpkeep systemd UNIT --kernel --write"
    }
    return "kernel mode sets keepalive in the kernel for any program, static, Go or set-user-ID alike: \(command)"
}

/// The variables the shim reads, and LD_PRELOAD.
public let shimVariableNames = ["LD_PRELOAD"] + KeepaliveOption.allCases.map(\.variable) + ["KEEPALIVE", "TCPKEEP_ENFORCE", "TCPKEEP_LOG"]

/// The shim's variables among the NUL-separated `NAME=value` entries of /proc/PID/environ.
public func shimVariables(environ: [UInt8]) -> [ShimVariable] {
    var values: [String: String] = [:]
    for entry in environ.split(separator: 0) {
        guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
        let name = String(decoding: entry[..<equals], as: UTF8.self)
        if shimVariableNames.contains(name) && values[name] == nil {
            values[name] = String(decoding: entry[(equals + 1)...], as: UTF8.self)
        }
    }
    return shimVariableNames.compactMap { name in values[name].map { ShimVariable(name: name, value: $0) } }
}

/// The path of the mapped file named `libtcpkeep.so` (or `library` exactly) in the text of
/// /proc/PID/maps, or nil when there is none.
public func mappedShim(maps: String, library: String?) -> String? {
    for line in maps.split(separator: "\n") {
        // address perms offset dev inode path; the path is the rest and may contain spaces.
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count == 6 else { continue }
        var path = String(fields[5].trimmingWhitespace)
        // A library replaced on disk since it was loaded (an upgrade) is still loaded.
        if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
        if path == library || path.split(separator: "/").last == "libtcpkeep.so" { return path }
    }
    return nil
}

/// The distinct option sets of connections, most common first.
public func socketOptionGroups(_ connections: [SocketOptions]) -> [SocketOptionsGroup] {
    var order: [SocketOptions] = []
    var counts: [SocketOptions: Int] = [:]
    for options in connections {
        if counts[options] == nil { order.append(options) }
        counts[options, default: 0] += 1
    }
    return order.enumerated().sorted { (counts[$0.element]!, -$0.offset) > (counts[$1.element]!, -$1.offset) }
        .map { SocketOptionsGroup(options: $0.element, connections: counts[$0.element]!) }
}

/// Where a shell looks for `command`: the command itself when it has a slash, else each
/// directory of `searchPath` in order (an empty entry is the current directory).
public func commandCandidates(_ command: String, searchPath: String) -> [String] {
    guard !command.contains("/") else { return [command] }
    return searchPath.split(separator: ":", omittingEmptySubsequences: false).map { directory in
        directory.isEmpty ? command : "\(directory.hasSuffix("/") ? directory.dropLast() : directory)/\(command)"
    }
}

/// Where systemd looks for an ExecStart= program given without a path.
public let systemdExecSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// MARK: - Formats

/// The forms a doctor report is written in.
public enum DoctorFormat: String, CaseIterable, Sendable {
    case text, json

    public func render(_ report: DoctorReport) -> String {
        switch self {
        case .text: formatDoctorText(report)
        case .json: formatDoctorJSON(report)
        }
    }
}

/// The report for a person: what was looked at, the verdict, why, and what to do. Paths, unit
/// names, environment values and notes quote what processes and files say: each line is made
/// terminal-safe as a whole, so that none adds a line or an escape.
public func formatDoctorText(_ report: DoctorReport) -> String {
    doctorLines(report).map { terminalSafe($0) + "\n" }.joined()
}

/// The report's lines, without their line feeds, quoting what they quote as it is.
private func doctorLines(_ report: DoctorReport) -> [String] {
    let target = report.target
    var lines: [String] = []
    switch target.kind {
    case .program: lines.append("program \(target.path ?? target.name)")
    case .process: lines.append("process \(target.pid.map(String.init) ?? target.name)\(target.path.map { " (\($0))" } ?? "")")
    case .unit:
        lines.append("unit \(target.unit ?? target.name)")
        lines.append("  program: \(target.path ?? "unknown")")
        lines.append("  main process: \(target.pid.map(String.init) ?? "none")")
    }
    if let shimLoaded = report.shimLoaded {
        lines.append("  shim: \(shimLoaded ? "loaded" : "not loaded (not in /proc/\(target.pid ?? 0)/maps)")")
    }
    if let settings = report.settings {
        if let environment = settings.environment {
            let text = environment.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            lines.append("  environment: \(text.isEmpty ? "none of the shim's variables" : text)")
        } else {
            lines.append("  environment: not readable")
        }
        if let sockets = settings.sockets {
            for group in sockets {
                lines.append("  sockets: \(optionsText(group.options)) on \(counted(group.connections, "connection"))")
            }
        }
    }
    if let connections = report.connections {
        lines.append("  \(summaryLine(connections))")
    }
    if let kernel = report.kernel {
        lines.append("  kernel mode: tcpkeep's programs run for its sockets (\(kernel.cgroup ?? kernel.pinDirectory)): \(kernel.valuesSummary)\(!kernel.byPolicy && kernel.settings.enforce ? ", enforced" : "")")
    }
    for obstacle in report.obstacles {
        lines += ["  obstacle: \(obstacle.reason)", "    instead: \(obstacle.advice)"]
    }
    for note in report.notes {
        lines.append("  note: \(note)")
    }
    let reacher = report.kernel != nil ? "kernel mode" : "the shim"
    lines.append(report.reachable ? "verdict: \(reacher) reaches it" : "verdict: the shim does not reach it")
    return lines
}

/// A stable object: target, reachable, obstacles, shim_loaded, connections, settings, kernel
/// (an attachment as `kernel status --format json` gives it, or null), notes.
public func formatDoctorJSON(_ report: DoctorReport) -> String {
    let target = report.target
    var output = "{"
    output += "\"target\": " + jsonObject([
        ("kind", json(target.kind.rawValue)), ("name", json(target.name)), ("path", target.path.map(json) ?? "null"),
        ("pid", target.pid.map { "\($0)" } ?? "null"), ("unit", target.unit.map(json) ?? "null"),
    ])
    output += ",\n\"reachable\": \(report.reachable)"
    let obstacles = report.obstacles.map {
        jsonObject([("obstacle", json($0.name)), ("reason", json($0.reason)), ("advice", json($0.advice))])
    }
    output += ",\n\"obstacles\": [" + obstacles.joined(separator: ", ") + "]"
    output += ",\n\"shim_loaded\": " + (report.shimLoaded.map { "\($0)" } ?? "null")
    output += ",\n\"connections\": " + (report.connections.map { jsonObject(summaryFields($0)) } ?? "null")
    output += ",\n\"settings\": " + (report.settings.map { settings in
        jsonObject([
            ("environment", settings.environment.map { variables in
                jsonObject(variables.map { ($0.name, json($0.value)) })
            } ?? "null"),
            ("sockets", settings.sockets.map { groups in
                "[" + groups.map { jsonObject(optionsFields($0.options) + [("connections", "\($0.connections)")]) }
                    .joined(separator: ", ") + "]"
            } ?? "null"),
        ])
    } ?? "null")
    output += ",\n\"kernel\": " + (report.kernel.map(kernelAttachmentJSON) ?? "null")
    output += ",\n\"notes\": [" + report.notes.map(json).joined(separator: ", ") + "]"
    return output + "}\n"
}
