import Foundation
import Testing

/// The builds of the shim each scenario runs against: the library `swift build` ships, the same
/// source under AddressSanitizer and UndefinedBehaviorSanitizer, and the shipped one under
/// valgrind's memcheck.
enum ShimVariant: String, CaseIterable, CustomTestStringConvertible {
    case shipped, sanitized, valgrind

    var testDescription: String { rawValue }

    /// The probe built for this variant.
    func probe() throws -> String {
        try (self == .sanitized ? Artifacts.sanitizedProbe : Artifacts.probe).get()
    }

    /// The probe run by `tcpkeep run` with `settings`, checked for sanitizer and memcheck reports.
    func run(
        _ arguments: [String], settings: [String] = [], environment: [String: String] = [:]
    ) throws -> ProcessResult {
        try launch(arguments, environment: environment) { program, environment in
            if self == .sanitized { environment["TCPKEEP_LIBRARY"] = try Artifacts.sanitizedShim.get() }
            return [Artifacts.tcpkeep, "run"] + settings + ["--"] + program
        }
    }

    /// The probe with the shim in LD_PRELOAD and `environment` as it is: how a unit file or a
    /// shell that never heard of `tcpkeep run` preloads it, bad values included.
    func preloaded(_ arguments: [String], environment: [String: String]) throws -> ProcessResult {
        try launch(arguments, environment: environment) { program, environment in
            environment["LD_PRELOAD"] = self == .sanitized ? try Artifacts.sanitizedShim.get() : Artifacts.shim
            return program
        }
    }

    private func launch(
        _ arguments: [String], environment: [String: String],
        command: (_ program: [String], _ environment: inout [String: String]) throws -> [String]
    ) throws -> ProcessResult {
        var environment = environment
        var program = [try probe()]
        switch self {
        case .shipped:
            break
        case .sanitized:
            environment["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=86"
            environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
        case .valgrind:
            try requireProgram("valgrind")
            program = [
                "valgrind", "-q", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
            ] + program
        }
        let result = try runProcess(try command(program, &environment) + arguments, environment: environment)
        let reports = result.stderr.split(separator: "\n").filter {
            $0.contains("Sanitizer") || $0.contains("runtime error:") || $0.hasPrefix("==")
        }
        #expect(reports.isEmpty, "\(rawValue) reported problems:\n\(result)")
        #expect(![86, 87, 99].contains(result.status ?? 0), "\(rawValue) failed: \(result)")
        return result
    }

    /// The same probe with no preload at all: what the system does by itself.
    func runBare(_ arguments: [String]) throws -> ProcessResult {
        try runProcess([try probe()] + arguments)
    }
}
