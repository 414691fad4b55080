import Foundation
import TCPKeepCore
import Testing

/// `tcpkeep run` and `tcpkeep env`, run as the built binary.
@Suite("tcpkeep run and env")
struct RunCommandTests {
    let tcpkeep = Artifacts.tcpkeep

    @Test("the program replaces tcpkeep: same PID, its exit status, its signal")
    func replacesItself() throws {
        let pid = try runProcess([tcpkeep, "run", "--idle", "30", "--", "sh", "-c", "echo $$"])
        #expect(pid.stdout == "\(pid.pid)\n")
        let status = try runProcess([tcpkeep, "run", "--", "sh", "-c", "exit 7"])
        #expect(status.status == 7)
        // SIGKILL, since the test runner's children may inherit other signals blocked.
        let signal = try runProcess([tcpkeep, "run", "--", "sh", "-c", "kill -KILL $$"])
        #expect(signal.signal == SIGKILL && signal.status == nil, "\(signal)")
    }

    @Test("options after the program are the program's, with or without --")
    func programArguments() throws {
        let withSeparator = try runProcess([tcpkeep, "run", "--idle", "30", "--", "printf", "%s,", "--idle", "5"])
        #expect(withSeparator.stdout == "--idle,5,")
        let without = try runProcess([tcpkeep, "run", "--count", "3", "printf", "%s,", "--count", "--"])
        #expect(without.stdout == "--count,--,")
    }

    @Test("the shim goes in front of an existing LD_PRELOAD, once, with the settings beside it")
    func environment() throws {
        let other = try Artifacts.otherPreload.get()
        let show = ["sh", "-c", #"printf '%s|%s|%s|%s|%s\n' "$LD_PRELOAD" "$KEEPIDLE" "$KEEPINTVL" "$TCPKEEP_USER_TIMEOUT" "$TCPKEEP_ENFORCE""#]
        let result = try runProcess(
            [tcpkeep, "run", "--idle", "2m", "--interval", "10s", "--user-timeout", "1500ms", "--enforce", "--"] + show,
            environment: ["LD_PRELOAD": other])
        #expect(result.stdout == "\(Artifacts.shim):\(other)|120|10|1500|1\n")
        // Nested runs do not load the shim twice.
        let nested = try runProcess([tcpkeep, "run", "--", tcpkeep, "run", "--"] + show, environment: ["LD_PRELOAD": other])
        #expect(nested.stdout.hasPrefix("\(Artifacts.shim):\(other)|"))
    }

    @Test("settings the command line leaves out keep the inherited values")
    func inherited() throws {
        let result = try runProcess(
            [tcpkeep, "run", "--idle", "30", "--", "sh", "-c", #"printf '%s %s' "$KEEPIDLE" "$KEEPCNT""#],
            environment: ["KEEPIDLE": "7000", "KEEPCNT": "3"])
        #expect(result.stdout == "30 3")
    }

    /// Each bad value is refused with exit 2 and the accepted range, before the program runs.
    @Test("bad values are refused before anything runs", arguments: [
        (["--idle", "0"], "The value '0' is invalid for '--idle <duration>': out of range; expected 1s to 32767s"),
        (["--idle", "1m30"], "The value '1m30' is invalid for '--idle <duration>': not a duration in whole seconds"),
        (["--interval", "10h"], "The value '10h' is invalid for '--interval <duration>': out of range; expected 1s to 32767s"),
        (["--count", "128"], "The value '128' is invalid for '--count <n>': out of range; expected 1 to 127"),
        (["--user-timeout=-1"], "The value '-1' is invalid for '--user-timeout <duration>': not a duration"),
        (["--idle", "-5"], "The value '-5' is invalid for '--idle <duration>': not a duration in whole seconds"),
        (["--idle", "99999999999999999999"], "The value '99999999999999999999' is invalid for '--idle <duration>': out of range"),
        (["--idle", "1h1h"], "The value '1h1h' is invalid for '--idle <duration>': not a duration in whole seconds"),
        (["--log", "loud"], "The value 'loud' is invalid for '--log <level>'. Please provide one of 'quiet', 'error' or 'debug'."),
        (["--bogus"], "Unknown option '--bogus'"),
    ])
    func refused(arguments: [String], message: String) throws {
        let marker = Artifacts.scratch.appendingPathComponent("ran-\(UUID().uuidString)").path
        let result = try runProcess([tcpkeep, "run"] + arguments + ["--", "touch", marker])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the program ran")
    }

    @Test("an inherited value the shim would ignore is refused, unless a flag overrides it")
    func inheritedInvalid() throws {
        let refused = try runProcess([tcpkeep, "run", "--", "true"], environment: ["KEEPIDLE": "1m"])
        #expect(refused.status == 2)
        #expect(refused.stderr == "tcpkeep: KEEPIDLE='1m' in the environment is invalid: the shim takes a whole number of seconds from 1 to 32767; set it right or override it with --idle\n")
        let overridden = try runProcess([tcpkeep, "run", "--idle", "60", "--", "true"], environment: ["KEEPIDLE": "1m"])
        #expect(overridden.status == 0, "\(overridden)")
        let refusals = [
            ("KEEPALIVE", "off", "KEEPALIVE='off' in the environment turns the shim off for every socket; unset it"),
            ("KEEPALIVE", "maybe", "KEEPALIVE='maybe' in the environment is invalid: the shim takes on or off"),
            ("TCPKEEP_ENFORCE", "always", "TCPKEEP_ENFORCE='always' in the environment is invalid"),
            ("TCPKEEP_LOG", "loud", "TCPKEEP_LOG='loud' in the environment is invalid: the shim takes quiet, error or debug"),
        ]
        for (variable, value, message) in refusals {
            let result = try runProcess([tcpkeep, "run", "--idle", "60", "--", "true"], environment: [variable: value])
            #expect(result.status == 2 && result.stderr.hasPrefix("tcpkeep: \(message)"), "\(variable)=\(value): \(result)")
        }
        let accepted = try runProcess([tcpkeep, "run", "--", "true"], environment: ["KEEPALIVE": "on", "TCPKEEP_LOG": "Quiet", "TCPKEEP_ENFORCE": "no"])
        #expect(accepted.status == 0, "\(accepted)")
        // Empty is unset, for the shim as for systemd's Environment=KEEPIDLE=.
        let empty = try runProcess([tcpkeep, "run", "--", "true"], environment: ["KEEPIDLE": "", "KEEPALIVE": "", "TCPKEEP_LOG": ""])
        #expect(empty.status == 0 && empty.stderr.isEmpty, "\(empty)")
    }

    @Test("help before -- is run's own, whatever follows it")
    func help() throws {
        for flag in ["--help", "-h"] {
            let result = try runProcess([tcpkeep, "run", flag, "--", "true"])
            #expect(result.status == 0 && result.stdout.contains("USAGE: tcpkeep run") && result.stderr.isEmpty, "\(result)")
        }
    }

    @Test("--version names the shim this tcpkeep would preload")
    func version() throws {
        let result = try runProcess([tcpkeep, "--version"])
        #expect(result.status == 0 && result.stdout.hasPrefix("0.1.0\nshim: \(Artifacts.shim) (\(ShimABI.native) programs)\nshim: "), "\(result)")
        // The musl shim's line: where make shims put it, or none found.
        #expect(result.lines.count == 3 && result.lines[2].hasSuffix("(\(ShimABI.native.architecture) musl programs)"), "\(result)")
        let none = try runProcess([tcpkeep, "--version"], environment: ["TCPKEEP_LIBRARY": "/no/such/libtcpkeep.so"])
        #expect(none.status == 0 && none.stdout.hasPrefix("0.1.0\nshim: none found for \(ShimABI.native) programs (TCPKEEP_LIBRARY=/no/such/libtcpkeep.so: no readable file there)"), "\(none)")
    }

    @Test("each command's help lists only the settings it uses")
    func settingsInHelp() throws {
        let shimOnly = ["--enforce", "--log"]
        for (command, absent) in [("fix", shimOnly), ("sysctl", shimOnly + ["--user-timeout"])] {
            let help = try runProcess([tcpkeep, command, "--help"])
            #expect(help.status == 0 && help.stdout.contains("--idle"), "\(help)")
            for flag in absent { #expect(!help.stdout.contains(flag), "\(command) --help lists \(flag)") }
        }
    }

    @Test("a missing program exits 127, one that cannot run 126, as in the shell")
    func missingProgram() throws {
        let missing = try runProcess([tcpkeep, "run", "--", "no-such-program-here"])
        #expect(missing.status == 127)
        #expect(missing.stderr == "tcpkeep: no-such-program-here: command not found\n")
        let notExecutable = try runProcess([tcpkeep, "run", "--", Artifacts.source("shim/tcpkeep.c")])
        #expect(notExecutable.status == 126)
        #expect(notExecutable.stderr.contains("Permission denied"))
        let nothing = try runProcess([tcpkeep, "run", "--idle", "30"])
        #expect(nothing.status == 2)
        #expect(nothing.stderr.contains("missing the program to run"))
    }

    @Test("TCPKEEP_LIBRARY overrides where the shim is; a wrong path is an error")
    func libraryOverride() throws {
        let other = try Artifacts.otherPreload.get()
        let overridden = try runProcess([tcpkeep, "env"], environment: ["TCPKEEP_LIBRARY": other])
        #expect(overridden.stdout == "export LD_PRELOAD='\(other)'\n")
        let wrong = try runProcess([tcpkeep, "run", "--", "true"], environment: ["TCPKEEP_LIBRARY": "/nonexistent/libtcpkeep.so"])
        #expect(wrong.status == 2)
        #expect(wrong.stderr == "tcpkeep: TCPKEEP_LIBRARY=/nonexistent/libtcpkeep.so: no readable file there\n")
    }

    @Test("installed as bin/tcpkeep and lib/tcpkeep/libtcpkeep.so, it finds the shim with no configuration")
    func installedLayout() throws {
        let prefix = Artifacts.scratch.appendingPathComponent("prefix-\(UUID().uuidString)")
        let bin = prefix.appendingPathComponent("bin"), lib = prefix.appendingPathComponent("lib/tcpkeep")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: lib, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: tcpkeep, toPath: bin.appendingPathComponent("tcpkeep").path)
        try FileManager.default.copyItem(atPath: Artifacts.shim, toPath: lib.appendingPathComponent("libtcpkeep.so").path)
        let result = try runProcess([bin.appendingPathComponent("tcpkeep").path, "env"])
        #expect(result.stdout == "export LD_PRELOAD='\(lib.appendingPathComponent("libtcpkeep.so").path)'\n")
        try FileManager.default.removeItem(at: prefix)
    }

    @Test("env prints lines a shell can eval, and they preload the shim")
    func evaluable() throws {
        let other = try Artifacts.otherPreload.get()
        let script = #"eval "$("$0" env --idle 5m --count 3 --log debug)" && printf '%s|%s|%s|%s\n' "$LD_PRELOAD" "$KEEPIDLE" "$KEEPCNT" "$TCPKEEP_LOG" && "$1" tcp"#
        let result = try runProcess(
            ["sh", "-c", script, tcpkeep, try Artifacts.probe.get()], environment: ["LD_PRELOAD": other])
        #expect(result.lines.first == "\(Artifacts.shim):\(other)|300|3|debug")
        let socket = try #require(records(result, labelled: "socket").first, "\(result)")
        #expect(socket["keepalive"] == "1" && socket["idle"] == "300" && socket["cnt"] == "3")
        #expect(result.stderr.contains("SO_KEEPALIVE=1 TCP_KEEPIDLE=300 TCP_KEEPCNT=3"))
    }
}
