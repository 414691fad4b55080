import Foundation
import TCPKeepCore
import Testing

/// Where the package and its built products are, and the C programs the tests compile.
enum Artifacts {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The build products directory: the test runner lives in it.
    static let products: URL = {
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
        // On some layouts the runner sits inside a .xctest bundle directory.
        while directory.pathComponents.contains(where: { $0.hasSuffix(".xctest") }) {
            directory.deleteLastPathComponent()
        }
        return directory
    }()

    static var tcpkeep: String { products.appendingPathComponent("tcpkeep").path }
    static var shim: String { products.appendingPathComponent("\(shimBundleDirectory)/libtcpkeep.so").path }

    /// The folder of the keepalive option table the shim and the C helpers share.
    static let optionTableDirectory = "Sources/CLinux/include"

    static func source(_ relativePath: String) -> String {
        packageRoot.appendingPathComponent(relativePath).path
    }

    /// A directory for this test run's compiled helpers and files, removed when the run exits.
    static let scratch: URL = {
        let directory = scratchDirectory(of: getpid())
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: scratchDirectory(of: getpid())) }
        return directory
    }()

    private static func scratchDirectory(of pid: pid_t) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tcpkeep-tests-\(pid)")
    }

    /// Compiles C sources with the toolchain's clang; DWARF 4 so that valgrind 3.19 reads it.
    static func compile(_ sources: [String], to name: String, flags: [String]) throws -> String {
        let output = scratch.appendingPathComponent(name).path
        let result = try runProcess(
            ["clang", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-gdwarf-4", "-fuse-ld=lld", "-I", source(optionTableDirectory)] + flags
                + ["-o", output] + sources.map(source))
        guard result.status == 0 else { throw CompileFailed(result: result) }
        return output
    }

    struct CompileFailed: Error, CustomStringConvertible {
        let result: ProcessResult
        var description: String { "compiling failed: \(result)" }
    }

    static let sanitizerFlags = ["-O1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

    static let probe = Result { try compile(["Tests/Programs/probe.c"], to: "probe", flags: ["-O1", "-pthread"]) }
    static let otherPreload = Result {
        try compile(["Tests/Programs/other_preload.c"], to: "libother.so", flags: ["-O1", "-shared", "-fPIC"])
    }
    static let holder = Result { try compile(["Tests/Programs/holder.c"], to: "holder", flags: ["-O1"]) }
    static let peer = Result { try compile(["Tests/Programs/peer.c"], to: "peer", flags: ["-O1"]) }
    /// Kernel mode's clients: statically linked (gcc -static) and Go, which no preload reaches.
    static let staticProbe = Result { try compileStatic("bpf/test/probe.c", to: "static-probe") }
    static let staticPeer = Result { try compileStatic("Tests/Programs/peer.c", to: "static-peer") }
    static let goClient = Result { () throws -> String in
        try requireProgram("go")
        let output = scratch.appendingPathComponent("goclient").path
        let result = try runProcess(
            ["go", "build", "-o", output, "main.go"], environment: ["CGO_ENABLED": "0", "GOCACHE": scratch.appendingPathComponent("gocache").path],
            in: packageRoot.appendingPathComponent("bpf/test/goclient"))
        guard result.status == 0 else { throw CompileFailed(result: result) }
        return output
    }

    static func compileStatic(_ source: String, to name: String) throws -> String {
        try requireProgram("gcc")
        let output = scratch.appendingPathComponent(name).path
        let result = try runProcess(["gcc", "-static", "-O2", "-o", output, Artifacts.source(source)])
        guard result.status == 0 else { throw CompileFailed(result: result) }
        return output
    }
    static let sanitizedProbe = Result {
        try compile(["Tests/Programs/probe.c"], to: "probe-sanitized", flags: sanitizerFlags + ["-pthread"])
    }
    /// The shim's source built as the plugin builds it, plus ASan and UBSan.
    static let sanitizedShim = Result {
        try compile(
            ["shim/tcpkeep.c"], to: "libtcpkeep-sanitized.so",
            flags: sanitizerFlags + ["-shared", "-fPIC", "-fvisibility=hidden"])
    }
}

/// Whether a program is on PATH.
func isInstalled(_ program: String) -> Bool {
    (try? executablePath(program)) != nil
}

let runningInCI = ProcessInfo.processInfo.environment["CI"] == "true"

/// Skips the running test, with the reason, when `program` is missing; in CI, where every
/// real-system test must run, a missing program fails it instead.
func requireProgram(_ program: String) throws {
    guard !isInstalled(program) else { return }
    let reason = "\(program) is not installed; make test installs it"
    if runningInCI {
        Issue.record(Comment(rawValue: reason + ", and CI must not skip this test"))
        throw MissingProgram(name: program)
    }
    try Test.cancel(Comment(rawValue: reason))
}

/// Skips the running test outside CI when not root; CI runs as root and must not skip it.
func requireRoot() throws {
    guard geteuid() != 0 else { return }
    if runningInCI {
        Issue.record("CI runs as root, and this test must not be skipped there")
        throw MissingProgram(name: "root")
    }
    try Test.cancel("needs root")
}

struct MissingProgram: Error {
    let name: String
}
