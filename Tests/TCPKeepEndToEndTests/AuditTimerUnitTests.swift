import Foundation
import Testing

/// systemd/tcpkeep-audit.service and .timer, as shipped.
@Suite("The audit's systemd units")
struct AuditTimerUnitTests {
    static let installedBinary = "/usr/local/bin/tcpkeep"
    static let metricsDirectory = "/var/lib/prometheus/node-exporter"

    /// The units with the binary the build made in place of the installed one.
    func stagedUnits() throws -> URL {
        let directory = Artifacts.scratch.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["tcpkeep-audit.service", "tcpkeep-audit.timer"] {
            let text = try String(contentsOfFile: Artifacts.source("systemd/\(name)"), encoding: .utf8)
            try text.replacingOccurrences(of: Self.installedBinary, with: Artifacts.tcpkeep)
                .write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test("systemd-analyze verify accepts both with nothing on stderr")
    func verify() throws {
        try requireProgram("systemd-analyze")
        let directory = try stagedUnits()
        let result = try runProcess([
            "systemd-analyze", "verify",
            directory.appendingPathComponent("tcpkeep-audit.service").path,
            directory.appendingPathComponent("tcpkeep-audit.timer").path,
        ])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
    }

    @Test("the service's command writes the Prometheus file")
    func serviceCommand() throws {
        let service = try String(contentsOfFile: Artifacts.source("systemd/tcpkeep-audit.service"), encoding: .utf8)
        let execStart = try #require(service.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let output = Artifacts.scratch.appendingPathComponent("node-exporter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let command = execStart.dropFirst("ExecStart=".count)
            .replacingOccurrences(of: Self.installedBinary, with: Artifacts.tcpkeep)
            .replacingOccurrences(of: Self.metricsDirectory, with: output.path)
            .split(separator: " ").map(String.init)
        let result = try runProcess(command)
        #expect(result.status == 0, "\(result)")
        let metrics = try String(contentsOf: output.appendingPathComponent("tcpkeep.prom"), encoding: .utf8)
        #expect(metrics.contains("# TYPE tcpkeep_connections_by_status gauge"))
        #expect(metrics.contains(#"tcpkeep_connections_by_status{status="missing"} "#))
    }
}
