import Foundation
import TCPKeepCore
import Testing

@Suite("Preload and shell text")
struct PreloadTextTests {
    @Test("the shim goes first and nothing already preloaded is dropped")
    func preloadOrder() {
        let shim = "/usr/lib/tcpkeep/libtcpkeep.so"
        #expect(preloadList(putting: shim, before: nil) == shim)
        #expect(preloadList(putting: shim, before: "") == shim)
        #expect(preloadList(putting: shim, before: "/usr/lib/libjemalloc.so.2") == "\(shim):/usr/lib/libjemalloc.so.2")
        #expect(preloadList(putting: shim, before: "/a.so /b.so:/c.so") == "\(shim):/a.so:/b.so:/c.so")
        #expect(preloadList(putting: shim, before: "/a.so:\(shim)") == "\(shim):/a.so")
    }

    @Test("paths LD_PRELOAD cannot carry are named")
    func preloadPaths() {
        #expect(preloadPathProblem("/usr/lib/tcpkeep/libtcpkeep.so") == nil)
        #expect(preloadPathProblem("libtcpkeep.so") != nil)
        #expect(preloadPathProblem("/opt/my lib/libtcpkeep.so") != nil)
        #expect(preloadPathProblem("/opt/a:b/libtcpkeep.so") != nil)
    }

    @Test("the shim is looked for installed first, then in the build tree")
    func candidates() {
        #expect(shimCandidates(executableDirectory: "/usr/local/bin") == [
            "/usr/local/lib/tcpkeep/libtcpkeep.so", "/usr/local/bin/\(shimBundleDirectory)/libtcpkeep.so",
        ])
    }

    @Test("the musl shim is looked for beside the glibc one, then where make shims puts it; another architecture's in the build tree only")
    func otherABICandidates() {
        let bundle = "/usr/local/bin/\(shimBundleDirectory)"
        let musl = ShimABI(ShimABI.native.architecture, .musl)
        #expect(shimCandidates(executableDirectory: "/usr/local/bin", for: musl) == [
            "/usr/local/lib/tcpkeep/musl/libtcpkeep.so", "\(bundle)/../../../shims/\(musl.triplet)/libtcpkeep.so",
        ])
        let foreign = ShimABI(ShimABI.native.architecture == .x86_64 ? .aarch64 : .x86_64, .glibc)
        #expect(shimCandidates(executableDirectory: "/usr/local/bin", for: foreign) == ["\(bundle)/../../../shims/\(foreign.triplet)/libtcpkeep.so"])
    }

    @Test("a program's shim: from its ELF machine and loader; anything else says why none fits")
    func programABI() throws {
        let ls = try #require(FileManager.default.contents(atPath: "/bin/ls"))
        #expect(try programShimABI(Array(ls)).get() == ShimABI.native)
        #expect(libraryShimABI(Array(ls)) == ShimABI.native)
        #expect(throws: UnfitProgram.self) { try programShimABI(Array("#!/bin/sh\n".utf8)).get() }
        // A header cut short, and one whose tables point past the end: no shim, no crash.
        var header = Array(ls.prefix(64))
        #expect(throws: UnfitProgram.self) { try programShimABI(header).get() }
        header[32..<40] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        #expect(libraryShimABI(header) == nil)
    }

    @Test("shell quoting survives quotes, spaces and dollars", arguments: ["plain", "it's", "a b", "$HOME", "'", ""])
    func quoting(value: String) throws {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "printf %s \(shellQuoted(value))"]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        shell.waitUntilExit()
        #expect(String(decoding: printed, as: UTF8.self) == value)
    }
}
