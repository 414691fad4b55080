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
