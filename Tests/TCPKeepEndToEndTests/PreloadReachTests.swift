import Foundation
import TCPKeepCore
import Testing

/// Which programs LD_PRELOAD cannot reach, judged on real files: by the library on the bytes,
/// and by `tcpkeep systemd` on a unit that runs them.
@Suite("What LD_PRELOAD reaches")
struct PreloadReachTests {
    static let staticProgram = Result { () throws -> String in
        try requireProgram("gcc")
        let source = Artifacts.scratch.appendingPathComponent("static.c")
        try "int main(void) { return 0; }\n".write(to: source, atomically: true, encoding: .utf8)
        let output = Artifacts.scratch.appendingPathComponent("static-program").path
        let result = try runProcess(["gcc", "-static", "-o", output, source.path])
        guard result.status == 0 else { throw Artifacts.CompileFailed(result: result) }
        return output
    }

    func obstacles(_ path: String, hasFileCapabilities: Bool = false) throws -> [PreloadObstacle] {
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return preloadObstacles(executable: bytes, mode: UInt32(mode), hasFileCapabilities: hasFileCapabilities)
    }

    @Test("a dynamically linked program is reached; a static one is not")
    func linkage() throws {
        #expect(try obstacles("/bin/true") == [])
        #expect(try obstacles(try Self.staticProgram.get()) == [.staticallyLinked])
    }

    @Test("a program with a .go.buildinfo section is a Go program")
    func goProgram() throws {
        try requireProgram("objcopy")
        let copy = Artifacts.scratch.appendingPathComponent("go-like-\(UUID().uuidString)").path
        let blob = Artifacts.scratch.appendingPathComponent("buildinfo").path
        try Data("\u{ff} Go buildinf:".utf8).write(to: URL(fileURLWithPath: blob))
        let added = try runProcess(["objcopy", "--add-section", ".go.buildinfo=\(blob)", "/bin/true", copy])
        try #require(added.status == 0, "\(added)")
        #expect(try obstacles(copy) == [.goProgram])
    }

    @Test("set-user-ID and set-group-ID bits are obstacles; non-ELF files and truncated headers are not misread")
    func modeBits() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/bin/true")))
        #expect(preloadObstacles(executable: bytes, mode: 0o104755, hasFileCapabilities: false) == [.setuid])
        #expect(preloadObstacles(executable: bytes, mode: 0o102755, hasFileCapabilities: false) == [.setgid])
        // Set-group-ID without group execute is mandatory locking, no privilege.
        #expect(preloadObstacles(executable: bytes, mode: 0o102745, hasFileCapabilities: false) == [])
        #expect(preloadObstacles(executable: Array("#!/bin/sh\n".utf8), mode: 0o100755, hasFileCapabilities: false) == [])
        // Shorter than a 64-bit ELF header it is no ELF file; a cut-off table reads as no
        // interpreter, never out of bounds.
        for length in [4, 52, 64, 200] {
            let truncated = preloadObstacles(executable: Array(bytes.prefix(length)), mode: 0o100755, hasFileCapabilities: false)
            #expect(truncated == (length < 64 ? [] : [.staticallyLinked]), "\(length) bytes")
        }
    }

    /// A root whose unit runs `program`, installed at /usr/bin/program with `prepare` applied.
    func systemdWarnings(for program: String, prepare: (String) throws -> Void = { _ in }) throws -> String {
        let root = Artifacts.scratch.appendingPathComponent("reach-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let bin = root.appendingPathComponent("usr/bin"), units = root.appendingPathComponent("etc/systemd/system")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        let installed = bin.appendingPathComponent("program").path
        try FileManager.default.copyItem(atPath: program, toPath: installed)
        try prepare(installed)
        try "[Service]\nExecStart=-/usr/bin/program --flag\n".write(
            to: units.appendingPathComponent("app.service"), atomically: true, encoding: .utf8)
        let result = try runProcess([
            Artifacts.tcpkeep, "systemd", "app", "--idle", "60", "--root", root.path, "--library", "/usr/lib/tcpkeep/libtcpkeep.so",
        ])
        #expect(result.status == 0, "\(result)")
        return result.stderr
    }

    /// Offsets near Int.max in a program header or the section-name table must not trap.
    @Test("a crafted ELF with huge offsets is read without overflowing")
    func craftedOffsets() throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/bin/true")))
        func field(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        func patched(_ offset: Int, _ value: UInt64) -> [UInt8] {
            var bytes = original
            for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
            return bytes
        }
        let programHeaders = field(original, 32, 8), programHeaderSize = field(original, 54, 2)
        let notes = (0..<field(original, 56, 2)).map { programHeaders + $0 * programHeaderSize }.filter { field(original, $0, 4) == 4 }
        let sections = field(original, 40, 8), sectionSize = field(original, 58, 2), namesIndex = field(original, 62, 2)
        try #require(!notes.isEmpty && sections > 0)
        let crafted = [
            patched(notes[0] + 32, UInt64(Int.max) - 5),
            patched(notes[0] + 8, UInt64(Int.max) - 5),
            patched(sections + namesIndex * sectionSize + 24, UInt64(Int.max) - 2),
        ]
        for bytes in crafted {
            #expect(preloadObstacles(executable: bytes, mode: 0o100755, hasFileCapabilities: false) == [])
        }
    }

    @Test("tcpkeep systemd warns about a unit whose program LD_PRELOAD cannot reach")
    func systemdWarns() throws {
        #expect(try systemdWarnings(for: "/bin/true") == "")
        #expect(try systemdWarnings(for: try Self.staticProgram.get()).contains("usr/bin/program: it is statically linked"))
        let setuid = try systemdWarnings(for: "/bin/true") { try FileManager.default.setAttributes([.posixPermissions: 0o4755], ofItemAtPath: $0) }
        #expect(setuid.contains("it is set-user-ID"), "\(setuid)")
        try requireProgram("setcap")
        let capabilities = try systemdWarnings(for: "/bin/true") { path in
            let result = try runProcess(["setcap", "cap_net_bind_service=+ep", path])
            try #require(result.status == 0, "\(result)")
        }
        #expect(capabilities.contains("it has file capabilities"), "\(capabilities)")
    }
}
