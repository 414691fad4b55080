import Foundation
import Testing

/// `tcpkeep agent` running on a policy file kept as a Kubernetes ConfigMap keeps its files
/// (`policy.yaml` -> `..data/policy.yaml`, `..data` -> a folder per version), listening on a
/// port of its choosing, its log (standard error) in a file. `stop()` ends it with SIGTERM and
/// removes what it made: its pins (`--uninstall`) and the test's cgroups.
final class AgentProcess {
    let process = Process()
    let policyPath: String
    private(set) var port = 0
    private let folder: String
    private let logPath: String
    private let cgroups: KernelModeTests.TestCgroup
    private var versions = 0

    init(policy: String, cgroups: KernelModeTests.TestCgroup, policyPath: String? = nil) throws {
        try requireRoot()
        self.cgroups = cgroups
        if let policyPath {
            self.policyPath = policyPath
            folder = (policyPath as NSString).deletingLastPathComponent
            try policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        } else {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("tcpkeep-agent-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            self.policyPath = "\(folder)/policy.yaml"
        }
        logPath = "\(folder)/agent.log"
        if policyPath == nil {
            // A fresh agent: pins an interrupted earlier run left would be adopted, or refused
            // for their other root.
            _ = try runProcess([Artifacts.tcpkeep, "agent", "--uninstall"])
            try swapPolicy(policy)
            try FileManager.default.createSymbolicLink(atPath: self.policyPath, withDestinationPath: "..data/policy.yaml")
        }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Artifacts.tcpkeep)
        process.arguments = ["agent", "--config", self.policyPath, "--listen", "127.0.0.1:0"]
        process.environment = hermeticEnvironment
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var found: Int?
        while found == nil {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw AgentDidNotStart(log: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
            }
            usleep(50_000)
            found = log.split(separator: "\n").first { $0.contains("policy applied") }
                .flatMap { $0.split(separator: " ").first { $0.hasPrefix("listen=") } }
                .flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
        }
        port = found!
    }

    struct AgentDidNotStart: Error, CustomStringConvertible {
        let log: String
        var description: String { "tcpkeep agent did not become ready: \(log)" }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// A new version of the policy, swapped in as the kubelet does: a new folder, a new
    /// `..data` symlink renamed over the old one.
    func swapPolicy(_ text: String) throws {
        versions += 1
        let version = "..v\(versions)"
        try FileManager.default.createDirectory(atPath: "\(folder)/\(version)", withIntermediateDirectories: true)
        try text.write(toFile: "\(folder)/\(version)/policy.yaml", atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: "\(folder)/..data_tmp")
        try FileManager.default.createSymbolicLink(atPath: "\(folder)/..data_tmp", withDestinationPath: version)
        guard rename("\(folder)/..data_tmp", "\(folder)/..data") == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    func get(_ path: String, method: String = "GET") throws -> (status: Int, body: String) {
        try httpRequest(port: port, path, method: method)
    }

    /// A sample of /metrics: its name, with its labels if it has any; nil when it is not there.
    func metric(_ name: String) throws -> Double? {
        let body = try get("/metrics").body
        // The value is the last field: a label's value may hold spaces.
        return body.split(separator: "\n").first { $0.hasPrefix("\(name) ") }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
    }

    func waitForMetric(_ name: String, _ value: Double, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Double?
        while Date() < deadline {
            last = try metric(name)
            if last == value { return }
            usleep(100_000)
        }
        Issue.record("\(name) stayed \(last.map { "\($0)" } ?? "absent"), not \(value), for \(timeout)s; log: \(log)")
        throw MetricTimedOut()
    }

    struct MetricTimedOut: Error {}

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM, as systemd stops it; its pins stay.
    func terminate() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    func stop() {
        terminate()
        _ = try? runProcess([Artifacts.tcpkeep, "agent", "--uninstall"])
        let below = (FileManager.default.subpaths(atPath: cgroups.path) ?? []).map { "\(cgroups.path)/\($0)" }
            .filter { (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeDirectory }
        for path in below.sorted(by: { $0.count > $1.count }) { rmdir(path) }
        cgroups.remove()
    }
}

/// One HTTP/1.1 request to 127.0.0.1:PORT on a connection of its own: the status (-1 when the
/// connection ended without a response) and the body.
func httpRequest(port: Int, _ path: String, method: String = "GET") throws -> (status: Int, body: String) {
    try httpRequests(port: port, count: 1, path, method: method)[0]
}

/// `count` requests at once: every connection opened and every request sent before the first
/// response is read, so the server holds them all together.
func httpRequests(port: Int, count: Int, _ path: String, method: String = "GET") throws -> [(status: Int, body: String)] {
    let request = Array("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    let descriptors: [Int32] = (0..<count).map { _ in
        let fd = connectLoopback(port: port)
        guard fd >= 0 else { return -1 }
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { break }
            sent += written
        }
        return fd
    }
    defer { descriptors.filter { $0 >= 0 }.forEach { close($0) } }
    return descriptors.map { fd in
        guard fd >= 0 else { return (-1, "") }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let read = Glibc.read(fd, &buffer, buffer.count)
            if read <= 0 { break }
            response += buffer[..<read]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 "), let status = Int(text.dropFirst(9).prefix(3)) else { return (-1, "") }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }
}

/// A TCP connection to 127.0.0.1:PORT, reads timing out after 20 s; -1 when it fails.
func connectLoopback(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        return -1
    }
    return fd
}
