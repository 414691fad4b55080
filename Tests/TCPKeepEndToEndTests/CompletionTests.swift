import Foundation
import Testing

/// The bash completion script tcpkeep generates, driven as bash drives it on TAB.
@Suite("Shell completion")
struct CompletionTests {
    /// What the completion function offers for `line` (ending where TAB is pressed), with the
    /// built tcpkeep first in PATH as `tcpkeep`, which the script calls for dynamic values.
    func offers(_ line: String) throws -> [String] {
        try requireProgram("bash")
        let directory = Artifacts.scratch.appendingPathComponent("completion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("tcpkeep").path, withDestinationPath: Artifacts.tcpkeep)
        let driver = """
            source <(tcpkeep --generate-completion-script bash)
            COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
            read -ra COMP_WORDS <<<"$COMP_LINE"
            [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _tcpkeep tcpkeep "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let result = try runProcess(["bash", "-O", "extglob", "-c", driver, "drive", line], environment: ["PATH": "\(directory.path):\(path)"])
        #expect(result.status == 0, "\(result)")
        return result.lines
    }

    @Test("the values of --profile, --log and --format are offered")
    func fixedValues() throws {
        #expect(try offers("tcpkeep run --profile ") == ["lan", "datacenter", "internet", "mobile"])
        #expect(try offers("tcpkeep env --log ") == ["quiet", "error", "debug"])
        #expect(try offers("tcpkeep audit --format ") == ["table", "json", "prometheus"])
        #expect(try offers("tcpkeep doctor --format ") == ["text", "json"])
    }

    @Test("--pid offers running processes, this one among them")
    func processIDs() throws {
        let own = "\(getpid())"
        for command in ["fix", "audit", "doctor"] {
            let offered = try offers("tcpkeep \(command) --pid \(own.prefix(1))")
            #expect(offered.contains(own) && offered.allSatisfy { $0.hasPrefix(own.prefix(1)) && Int32($0) != nil }, "\(command): \(offered)")
        }
    }

    @Test("unit names come from the unit files: services and sockets for systemd, services for doctor --unit")
    func units() throws {
        try requireProgram("redis-server")
        let systemd = try offers("tcpkeep systemd redis-ser")
        #expect(systemd.contains("redis-server.service") && systemd.allSatisfy { $0.hasPrefix("redis-ser") }, "\(systemd)")
        let doctor = try offers("tcpkeep doctor --unit redis-ser")
        #expect(doctor.contains("redis-server.service") && doctor.allSatisfy { $0.hasSuffix(".service") }, "\(doctor)")
    }
}
