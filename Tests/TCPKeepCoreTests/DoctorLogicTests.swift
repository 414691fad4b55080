import TCPKeepCore
import Testing

/// The doctor's pure logic: maps, environ, PATH search, the verdict.
@Suite("Doctor logic")
struct DoctorUnitTests {
    @Test("the shim is found in /proc/PID/maps by name or exact path, also when deleted on disk")
    func maps() {
        let maps = """
            55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 1234   /usr/bin/redis-server
            7f1e2c000000-7f1e2c001000 r-xp 00001000 08:01 5678   /opt/my libs/libtcpkeep.so (deleted)
            7ffd5e9f0000-7ffd5ea11000 rw-p 00000000 00:00 0      [stack]

            """
        #expect(mappedShim(maps: maps, library: nil) == "/opt/my libs/libtcpkeep.so")
        #expect(mappedShim(maps: "7f-8f r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libkeepalive.so\n", library: nil) == nil)
        #expect(mappedShim(maps: "7f-8f r-xp 0 08:01 1 /usr/lib/tcpkeep/shim.so\n", library: "/usr/lib/tcpkeep/shim.so") == "/usr/lib/tcpkeep/shim.so")
        #expect(mappedShim(maps: "7f-8f rw-p 0 00:00 0\n", library: nil) == nil)
    }

    @Test("the shim's variables from a NUL-separated environ, in a fixed order, the first of duplicates")
    func environ() {
        let environ = Array("PATH=/bin\0KEEPIDLE=20\0LD_PRELOAD=/a.so\0KEEPIDLE=30\0garbage\0TCPKEEP_LOG=debug\0".utf8)
        #expect(shimVariables(environ: environ) == [
            ShimVariable(name: "LD_PRELOAD", value: "/a.so"), ShimVariable(name: "KEEPIDLE", value: "20"),
            ShimVariable(name: "TCPKEEP_LOG", value: "debug"),
        ])
        // redis overwrites the area with its process title: nothing of the shim's is left.
        #expect(shimVariables(environ: Array("redis-server 127.0.0.1:6379\0\0\0".utf8)).isEmpty)
    }

    @Test("a command is searched like the shell; a path is taken as it is")
    func search() {
        #expect(commandCandidates("app", searchPath: "/usr/bin:/opt/bin/::/bin") == ["/usr/bin/app", "/opt/bin/app", "app", "/bin/app"])
        #expect(commandCandidates("./app", searchPath: "/usr/bin") == ["./app"])
        #expect(parseMainPID("4242\n") == 4242 && parseMainPID("0\n") == 0 && parseMainPID("") == nil)
    }

    @Test("a loaded shim reaches a process unless it is a Go program; a file with any obstacle is not reached")
    func verdict() {
        let target = DoctorTarget(kind: .process, name: "1")
        #expect(DoctorReport(target: target, obstacles: [.setuid], shimLoaded: true).reachable)
        #expect(!DoctorReport(target: target, obstacles: [.goProgram], shimLoaded: true).reachable)
        #expect(!DoctorReport(target: target, obstacles: [], shimLoaded: false).reachable)
        #expect(!DoctorReport(target: DoctorTarget(kind: .program, name: "x"), obstacles: [.setgid]).reachable)
        #expect(DoctorReport(target: DoctorTarget(kind: .program, name: "x"), obstacles: []).reachable)
    }

    @Test("a program whose shim is not installed, or that no shim fits, is not reached; JSON names why")
    func missingShim() {
        let musl = ShimABI(.x86_64, .musl)
        let report = DoctorReport(target: DoctorTarget(kind: .program, name: "x"), obstacles: [.shimNotInstalled(musl)])
        #expect(!report.reachable)
        #expect(!DoctorReport(target: DoctorTarget(kind: .program, name: "x"), obstacles: [.noShimFits("a 32-bit program")]).reachable)
        let json = DoctorFormat.json.render(report)
        #expect(json.contains("\"obstacle\": \"shim-not-installed\", \"reason\": \"it needs the x86_64 musl shim (x86_64-linux-musl/libtcpkeep.so), which is not installed"), "\(json)")
        let text = DoctorFormat.text.render(report)
        #expect(text.contains("verdict: the shim does not reach it") && text.contains("instead: install it (make dist-shims"), "\(text)")
    }
}
