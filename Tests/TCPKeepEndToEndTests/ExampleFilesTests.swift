import Foundation
import Testing

/// The ready-to-copy files in systemd/ are what the built tcpkeep generates.
@Suite("Example files")
struct ExampleFilesTests {
    func files(under directory: URL) -> [String: Data] {
        var found: [String: Data] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: directory.path) ?? FileManager.DirectoryEnumerator() {
            var isDirectory: ObjCBool = false
            let url = directory.appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                found[path] = FileManager.default.contents(atPath: url.path)
            }
        }
        return found
    }

    @Test("systemd/ matches what scripts/generate-examples writes with the built tcpkeep")
    func examplesUpToDate() throws {
        let output = Artifacts.scratch.appendingPathComponent("examples-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try runProcess([Artifacts.source("scripts/generate-examples"), Artifacts.tcpkeep, output.path])
        try #require(result.status == 0, "\(result)")
        let generated = files(under: output)
        // The units are written by hand: the audit's are checked by AuditTimerUnitTests, the
        // kernel pin service's by ConfigurationCommandTests' --kernel test, the agent's unit and
        // example policy by the agent's tests.
        let handWritten = ["tcpkeep-audit.service", "tcpkeep-audit.timer", "tcpkeep-kernel@.service", "tcpkeep-agent.service", "tcpkeep-agent.yaml"]
        let committed = files(under: URL(fileURLWithPath: Artifacts.source("systemd"))).filter { !handWritten.contains($0.key) }
        #expect(generated.count == 4)
        for name in Set(generated.keys).union(committed.keys).sorted() {
            #expect(generated[name] == committed[name], "systemd/\(name) is out of date; run `make examples` to regenerate it")
        }
    }
}
