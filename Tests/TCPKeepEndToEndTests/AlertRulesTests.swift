import Foundation
import Testing

/// prometheus/tcpkeep.rules.yml against promtool, and against what the audit really writes.
@Suite("Alert rules on the audit's metrics")
struct AlertRulesTests {
    @Test("promtool checks the rules and their unit tests pass")
    func promtool() throws {
        try requireProgram("promtool")
        let result = try runProcess([Artifacts.source("prometheus/check")])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("SUCCESS"), "\(result)")
    }

    @Test("the audit's output parses, and its series carry exactly the labels the rules group by")
    func labelsMatchTheRules() throws {
        try requireProgram("promtool")
        let holder = try RunningProgram([try Artifacts.holder.get(), "4:none", "4:keepalive:30"])
        defer { holder.stop() }
        let audit = try runProcess([Artifacts.tcpkeep, "audit", "--format", "prometheus", "--pid", "\(holder.pid)"])
        #expect(audit.status == 0, "\(audit)")
        let directory = Artifacts.scratch.appendingPathComponent("alerts-\(holder.pid)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let metrics = directory.appendingPathComponent("tcpkeep.prom").path
        try audit.stdout.write(toFile: metrics, atomically: true, encoding: .utf8)
        let lint = try runProcess(["sh", "-c", "promtool check metrics < \"$0\"", metrics])
        #expect(lint.status == 0 && lint.stderr.isEmpty, "\(lint)")

        // The labels the audit group's rules sum by, less the scrape's own (job, instance), plus
        // status. The groups after it read kernel mode's counters and the agent's namespaced
        // series, which the audit of a process does not write.
        let rules = try String(contentsOfFile: Artifacts.source("prometheus/tcpkeep.rules.yml"), encoding: .utf8)
        let auditGroup = rules.components(separatedBy: "\n  - name: ")
            .first { $0.hasPrefix("tcpkeep\n") } ?? ""
        let groupings = auditGroup.split(separator: "\n").compactMap { line -> Set<String>? in
            guard let open = line.range(of: "sum by ("), let close = line[open.upperBound...].firstIndex(of: ")") else { return nil }
            return Set(line[open.upperBound..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        #expect(!groupings.isEmpty)
        let series = audit.lines.filter { $0.hasPrefix("tcpkeep_connections{") }
        #expect(series.count == 2, "\(audit.stdout)")
        for line in series {
            let labels = line.drop { $0 != "{" }.dropFirst().prefix { $0 != "}" }
            let names = Set(labels.split(separator: ",").map { String($0.prefix { $0 != "=" }) })
            for grouping in groupings {
                #expect(names == grouping.subtracting(["job", "instance"]).union(["status"]), "\(line) vs \(grouping)")
            }
        }
    }
}
