import Foundation
import Testing

/// The shipped libtcpkeep.so itself, as ld.so and an operator's readelf see it.
@Suite("The built library")
struct LibraryFileTests {
    @Test("needs libc alone")
    func needsLibcAlone() throws {
        try requireProgram("readelf")
        let dynamic = try runProcess(["readelf", "--dynamic", "--wide", Artifacts.shim])
        #expect(dynamic.status == 0, "\(dynamic)")
        let needed = dynamic.lines.filter { $0.contains("(NEEDED)") }.compactMap { line in
            line.split(separator: "[").last?.split(separator: "]").first.map(String.init)
        }
        #expect(needed == ["libc.so.6"])
    }

    @Test("exports the hooked functions alone")
    func exportsHooksAlone() throws {
        try requireProgram("nm")
        let symbols = try runProcess(["nm", "--dynamic", "--defined-only", Artifacts.shim])
        #expect(symbols.status == 0, "\(symbols)")
        let names = symbols.lines.compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(Set(names) == ["socket", "setsockopt"])
    }

    @Test("the source compiles without a warning under -Wall -Wextra with gcc as well as clang")
    func warningFree() throws {
        try requireProgram("gcc")
        let output = Artifacts.scratch.appendingPathComponent("libtcpkeep-gcc.so").path
        let result = try runProcess([
            "gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wshadow", "-Wconversion",
            "-fPIC", "-shared", "-fvisibility=hidden", "-I", Artifacts.source(Artifacts.optionTableDirectory), "-o", output,
            Artifacts.source("shim/tcpkeep.c"),
        ])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
    }
}
