import Foundation
import TCPKeepCore
import Testing

/// The shim for each ABI as tcpkeep hands it out: a musl program gets the musl shim from
/// `make shims`, the glibc shim is refused for it, and doctor names the shim a program needs.
/// Each shim's own contract on its ABI is Tests/Programs/shim_abi_check.sh's (make check-shims).
@Suite("Shims for other ABIs")
struct ShimABITests {
    static let muslNative = ShimABI(ShimABI.native.architecture, .musl)

    static let otherABIs = [muslNative, ShimABI(.aarch64, .glibc), ShimABI(.aarch64, .musl)]

    /// The probe for each ABI, compiled once: the tests run in parallel.
    static let probes = Dictionary(uniqueKeysWithValues: otherABIs.map { abi in (abi, Result { try compileProbe(for: abi) }) })

    static func probe(for abi: ShimABI) throws -> String { try probes[abi]!.get() }

    /// The probe linked for `abi` with its TRIPLET-gcc (Debian's cross compilers and musl wrappers).
    static func compileProbe(for abi: ShimABI) throws -> String {
        try requireProgram("\(abi.triplet)-gcc")
        let output = Artifacts.scratch.appendingPathComponent("probe-\(abi.triplet)").path
        let result = try runProcess(
            ["\(abi.triplet)-gcc", "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", output,
             Artifacts.source("Tests/Programs/probe.c")])
        guard result.status == 0 else { throw Artifacts.CompileFailed(result: result) }
        return output
    }

    /// The musl shim where make shims puts it, beside the build tree's tcpkeep.
    static let muslShim = Result { () throws -> String in
        let target = ".build/shims/\(muslNative.triplet)/libtcpkeep.so"
        let made = try runProcess(["make", "--no-print-directory", "-C", Artifacts.packageRoot.path, target], timeout: 600)
        guard made.status == 0 else { throw Artifacts.CompileFailed(result: made) }
        return Artifacts.source(target)
    }

    @Test("tcpkeep run gives a musl program the musl shim, which sets keepalive and the values")
    func muslProgram() throws {
        let shim = try Self.muslShim.get()
        let probe = try Self.probe(for: Self.muslNative)
        let result = try runProcess(
            [Artifacts.tcpkeep, "run", "--idle", "30", "--interval", "5", "--count", "4", "--", probe, "accept", "6"])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        for label in ["listener", "client", "accepted"] {
            let socket = try #require(records(result, labelled: label).first, "\(result)")
            #expect([socket["keepalive"], socket["idle"], socket["intvl"], socket["cnt"]] == ["1", "30", "5", "4"], "\(label)")
        }
        let env = try runProcess([Artifacts.tcpkeep, "env", "--for", probe])
        #expect(env.stdout == "export LD_PRELOAD='\(shim)'\n", "\(env)")
        // A script is judged by its interpreter.
        let script = Artifacts.scratch.appendingPathComponent("musl-script").path
        try "#!\(probe) tcp\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let scripted = try runProcess([Artifacts.tcpkeep, "run", "--idle", "30", "--", script])
        #expect(records(scripted, labelled: "socket").first?["idle"] == "30", "\(scripted)")
        let version = try runProcess([Artifacts.tcpkeep, "--version"])
        #expect(version.lines.contains("shim: \(shim) (\(Self.muslNative) programs)"), "\(version)")
    }

    @Test("the glibc shim is refused for a musl program, with a line naming the musl shim")
    func glibcShimRefused() throws {
        let probe = try Self.probe(for: Self.muslNative)
        let result = try runProcess([Artifacts.tcpkeep, "run", "--idle", "30", "--", probe, "tcp"], environment: ["TCPKEEP_LIBRARY": Artifacts.shim])
        #expect(result.status == 2 && result.stdout.isEmpty, "\(result)")
        #expect(result.stderr == "tcpkeep: '\(probe)' is an \(Self.muslNative) program: it needs \(Self.muslNative.shimName): TCPKEEP_LIBRARY=\(Artifacts.shim) is the \(ShimABI.native) shim\n", "\(result)")
        let env = try runProcess([Artifacts.tcpkeep, "env", "--for", probe], environment: ["TCPKEEP_LIBRARY": Artifacts.shim])
        #expect(env.status == 2 && env.stdout.isEmpty && env.stderr == result.stderr, "\(env)")
        // Without tcpkeep, the loader's own failure: what the refusal spares the user.
        let bare = try runProcess([probe, "tcp"], environment: ["LD_PRELOAD": Artifacts.shim])
        #expect(bare.status != 0 && bare.stderr.contains("Error relocating"), "\(bare)")
    }

    @Test("tcpkeep systemd gives a musl service the musl shim; without it installed, it refuses, naming it, and writes nothing")
    func systemdDropInForMusl() throws {
        let shim = try Self.muslShim.get()
        let probe = try Self.probe(for: Self.muslNative)
        let root = Artifacts.scratch.appendingPathComponent("musl-root-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let units = root.appendingPathComponent("lib/systemd/system"), bin = root.appendingPathComponent("usr/local/bin")
        for folder in [units, bin] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: probe, toPath: bin.appendingPathComponent("muslsvc").path)
        try "[Service]\nExecStart=/usr/local/bin/muslsvc tcp\n".write(to: units.appendingPathComponent("muslsvc.service"), atomically: true, encoding: .utf8)
        let dropIn = root.appendingPathComponent("etc/systemd/system/muslsvc.service.d/50-tcpkeep.conf")

        let refused = try runProcess(
            [Artifacts.tcpkeep, "systemd", "muslsvc", "--idle", "30", "--write", "--root", root.path], environment: ["TCPKEEP_LIBRARY": Artifacts.shim])
        #expect(refused.status == 2 && refused.stderr.contains("is an \(Self.muslNative) program: it needs \(Self.muslNative.shimName)"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: dropIn.path), "a drop-in was written: \(refused)")

        let written = try runProcess([Artifacts.tcpkeep, "systemd", "muslsvc", "--idle", "30", "--write", "--root", root.path])
        #expect(written.status == 0, "\(written)")
        let content = try String(contentsOf: dropIn, encoding: .utf8)
        #expect(content.contains("LD_PRELOAD=\(shim)") && !content.contains(Artifacts.shim), "\(content)")
    }

    @Test("doctor names the shim a musl and an aarch64 program need, and whether it is installed: not installed, it does not reach them",
          arguments: otherABIs)
    func doctorNamesTheShim(abi: ShimABI) throws {
        let probe = try Self.probe(for: abi)
        let result = try runProcess([Artifacts.tcpkeep, "doctor", probe], environment: ["TCPKEEP_LIBRARY": "/no/such/libtcpkeep.so"])
        // Not installed: the shim cannot reach it, and the verdict says so.
        #expect(result.status == 1 && result.stdout.contains("  obstacle: it needs the \(abi.architecture) \(abi.library) shim (\(abi.triplet)/libtcpkeep.so), which is not installed with this tcpkeep"), "\(result)")
        #expect(result.stdout.contains("verdict: the shim does not reach it"), "\(result)")
        let native = try runProcess([Artifacts.tcpkeep, "doctor", try Artifacts.probe.get()])
        #expect(native.stdout.contains("  note: it needs \(ShimABI.native.shimName): installed at \(Artifacts.shim)\n"), "\(native)")
    }
}
