import Foundation
import Testing

/// The shim inside real processes: each scenario runs the probe under `tcpkeep run` and reads
/// back with getsockopt what its sockets got, for every build of the shim.
@Suite("The preload shim")
struct ShimTests {
    static let settings = ["--idle", "30", "--interval", "5", "--count", "4", "--user-timeout", "25s"]
    static let configured = ["keepalive": "1", "idle": "30", "intvl": "5", "cnt": "4", "user_timeout": "25000"]
    static let optionNames = ["keepalive", "idle", "intvl", "cnt", "user_timeout"]

    static let tcpProtocols: Set<Int> = [0, Int(IPPROTO_TCP), 262]
    static let typeFlags = Int(SOCK_NONBLOCK.rawValue) | Int(SOCK_CLOEXEC.rawValue)

    static func isTCP(_ socket: [String: String]) -> Bool {
        let domain = Int(socket["domain"]!)!, type = Int(socket["type"]!)!, proto = Int(socket["protocol"]!)!
        return (domain == Int(AF_INET) || domain == Int(AF_INET6))
            && type & ~typeFlags == Int(SOCK_STREAM.rawValue) && tcpProtocols.contains(proto)
    }

    /// Every option of `socket` is the configured value, except those the kernel does not offer
    /// on that kind of socket (`-` without the shim too, as TCP_USER_TIMEOUT on MPTCP here).
    static func expectConfigured(_ socket: [String: String], bare: [String: String]? = nil, _ what: String) {
        for name in optionNames {
            let expected = bare?[name] == "-" ? "-" : configured[name]
            #expect(socket[name] == expected, "\(what): \(name)")
        }
    }

    @Test("every family, type, flag and protocol: TCP gets the settings, the rest is untouched", arguments: ShimVariant.allCases)
    func matrix(variant: ShimVariant) throws {
        let bare = records(try variant.runBare(["matrix"]), labelled: "socket")
        let shimmed = try variant.run(["matrix"], settings: Self.settings)
        let sockets = records(shimmed, labelled: "socket")
        try #require(sockets.count == bare.count && sockets.count == 3 * 16 * 6)
        var tcpSockets = 0
        for (socket, alone) in zip(sockets, bare) {
            let what = "domain \(socket["domain"]!) type \(socket["type"]!) protocol \(socket["protocol"]!)"
            #expect(socket["result"] == alone["result"], "\(what): socket() result")
            #expect(socket["errno"] == alone["errno"], "\(what): errno")
            guard socket["result"] == "ok" else { continue }
            if Self.isTCP(socket) {
                tcpSockets += 1
                Self.expectConfigured(socket, bare: alone, what)
            } else {
                #expect(socket == alone, "\(what): a socket that is not TCP must be left alone")
            }
        }
        // AF_INET and AF_INET6, four flag combinations, protocols 0 and IPPROTO_TCP at least.
        #expect(tcpSockets >= 16)
        // The only message allowed is the one report that MPTCP refuses TCP_USER_TIMEOUT.
        let messages = shimmed.stderr.split(separator: "\n")
        #expect(messages.allSatisfy { $0.contains("(MPTCP): setting TCP_USER_TIMEOUT failed") && $0.hasSuffix("(reported once)") })
        #expect(messages.count <= 1)
    }

    @Test("accepted sockets inherit the listener's settings", arguments: ShimVariant.allCases, ["4", "6"])
    func accepted(variant: ShimVariant, family: String) throws {
        let result = try variant.run(["accept", family], settings: Self.settings)
        #expect(result.status == 0, "\(result)")
        for label in ["listener", "client", "accepted", "accepted4"] {
            let socket = try #require(records(result, labelled: label).first, "\(label) missing: \(result)")
            Self.expectConfigured(socket, "IPv\(family) \(label)")
        }
        #expect(result.stderr.isEmpty)
    }

    @Test("threads creating sockets at once all get keepalive, errno untouched", arguments: ShimVariant.allCases)
    func threads(variant: ShimVariant) throws {
        let perThread = variant == .valgrind ? "50" : "500"
        let result = try variant.run(["threads", "8", perThread], settings: Self.settings)
        let summary = try #require(records(result, labelled: "threads").first, "\(result)")
        #expect(summary["sockets"] == String(8 * Int(perThread)!))
        #expect(summary["without_keepalive"] == "0")
        #expect(summary["errno_changed"] == "0")
    }

    @Test("a forked child's sockets get the settings", arguments: ShimVariant.allCases)
    func forked(variant: ShimVariant) throws {
        let result = try variant.run(["fork"], settings: Self.settings)
        #expect(result.status == 0, "\(result)")
        for label in ["child", "parent"] {
            let socket = try #require(records(result, labelled: label).first, "\(result)")
            #expect(socket["errno"] == "4242")
            Self.expectConfigured(socket, label)
        }
    }

    static let invalidValues: [(variable: String, value: String, message: String)] = [
        ("KEEPIDLE", "1m", "ignoring KEEPIDLE='1m': expected a whole number of seconds from 1 to 32767"),
        ("KEEPIDLE", "0", "ignoring KEEPIDLE='0': expected a whole number of seconds from 1 to 32767"),
        ("KEEPINTVL", "32768", "ignoring KEEPINTVL='32768': expected a whole number of seconds from 1 to 32767"),
        ("KEEPINTVL", "-5", "ignoring KEEPINTVL='-5': expected a whole number of seconds from 1 to 32767"),
        ("KEEPCNT", "128", "ignoring KEEPCNT='128': expected a whole number of probes from 1 to 127"),
        ("KEEPCNT", " 3", "ignoring KEEPCNT=' 3': expected a whole number of probes from 1 to 127"),
        ("TCPKEEP_USER_TIMEOUT", "2147483648", "ignoring TCPKEEP_USER_TIMEOUT='2147483648': expected a whole number of milliseconds from 0 to 2147483647"),
        ("TCPKEEP_USER_TIMEOUT", "99999999999999999999999", "ignoring TCPKEEP_USER_TIMEOUT='99999999999999999999999': expected a whole number of milliseconds from 0 to 2147483647"),
        ("KEEPALIVE", "maybe", "ignoring KEEPALIVE='maybe': expected on, off, 1, 0, yes, no, true or false"),
        ("TCPKEEP_LOG", "loud", "ignoring TCPKEEP_LOG='loud': expected quiet, error or debug"),
    ]

    @Test("an empty value is unset, as systemd's Environment=KEEPIDLE= means: nothing said, the system's value", arguments: ShimVariant.allCases)
    func emptyValues(variant: ShimVariant) throws {
        let bare = try #require(records(try variant.runBare(["tcp"]), labelled: "socket").first)
        let empty = ["KEEPIDLE", "KEEPINTVL", "KEEPCNT", "TCPKEEP_USER_TIMEOUT", "KEEPALIVE", "TCPKEEP_ENFORCE", "TCPKEEP_LOG"]
        let result = try variant.preloaded(["tcp"], environment: Dictionary(uniqueKeysWithValues: empty.map { ($0, "") }))
        let socket = try #require(records(result, labelled: "socket").first, "\(result)")
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        #expect(socket["keepalive"] == "1")
        for option in ["idle", "intvl", "cnt", "user_timeout"] {
            #expect(socket[option] == bare[option], "\(option)")
        }
    }

    /// Preloaded directly: `tcpkeep run` refuses these values before the program starts.
    @Test("an invalid value: one line on stderr, that option alone not applied", arguments: ShimVariant.allCases)
    func invalidValues(variant: ShimVariant) throws {
        let valid = ["KEEPIDLE": "30", "KEEPINTVL": "5", "KEEPCNT": "4", "TCPKEEP_USER_TIMEOUT": "25000"]
        let optionOf = ["KEEPIDLE": "idle", "KEEPINTVL": "intvl", "KEEPCNT": "cnt", "TCPKEEP_USER_TIMEOUT": "user_timeout"]
        let bare = try #require(records(try variant.runBare(["tcp"]), labelled: "socket").first)
        for invalid in Self.invalidValues {
            var environment = valid
            environment[invalid.variable] = invalid.value
            let result = try variant.preloaded(["tcp"], environment: environment)
            let socket = try #require(records(result, labelled: "socket").first, "\(result)")
            #expect(result.status == 0)
            let line = "tcpkeep: \(invalid.message)"
            if variant == .valgrind {
                // valgrind's launcher, a dynamically linked program, loads the shim too, once
                // more for each program it starts: the count is checked by the other variants.
                #expect(Set(result.stderr.split(separator: "\n")) == [Substring(line)], "\(invalid.variable)='\(invalid.value)'")
            } else {
                #expect(result.stderr == line + "\n", "\(invalid.variable)='\(invalid.value)'")
            }
            #expect(socket["keepalive"] == "1", "\(invalid.variable)='\(invalid.value)'")
            for (variable, option) in optionOf {
                let expected = variable == invalid.variable ? bare[option] : Self.configured[option]
                #expect(socket[option] == expected, "\(invalid.variable)='\(invalid.value)': \(option)")
            }
        }
    }

    @Test("KEEPALIVE=off, 0, no or false leaves every socket alone", arguments: ShimVariant.allCases)
    func switchedOff(variant: ShimVariant) throws {
        let bare = records(try variant.runBare(["accept", "4"]), labelled: "client")
        for value in ["off", "0", "no", "FALSE"] {
            // Preloaded directly: `tcpkeep run` refuses an inherited KEEPALIVE=off.
            let result = try variant.preloaded(["accept", "4"], environment: ["KEEPALIVE": value, "KEEPIDLE": "30", "KEEPCNT": "4"])
            #expect(records(result, labelled: "client") == bare, "KEEPALIVE=\(value)")
            #expect(records(result, labelled: "client").first?["keepalive"] == "0")
        }
    }

    @Test("TCPKEEP_LOG=debug reports each socket; quiet silences even bad values", arguments: ShimVariant.allCases)
    func logging(variant: ShimVariant) throws {
        let debug = try variant.run(["tcp"], settings: ["--idle", "30", "--log", "debug"])
        #expect(debug.stderr.hasPrefix("tcpkeep: fd "))
        #expect(debug.stderr.hasSuffix(" AF_INET: SO_KEEPALIVE=1 TCP_KEEPIDLE=30\n"))
        let quiet = try variant.preloaded(["tcp"], environment: ["KEEPIDLE": "soon", "TCPKEEP_LOG": "quiet"])
        #expect(quiet.stderr.isEmpty)
    }

    static let weaker = ["keepalive=0", "idle=7200", "intvl=300", "cnt=20", "user_timeout=0", "user_timeout=600000"]
    static let stricter = ["idle=10", "intvl=2", "cnt=2", "user_timeout=1000"]
    static let outOfRange = ["idle=40000", "cnt=0", "user_timeout=-1"]

    @Test("enforce: the program may tighten but not loosen keepalive, and still sees success", arguments: ShimVariant.allCases)
    func enforce(variant: ShimVariant) throws {
        let arguments = ["setopts", "tcp"] + Self.weaker + Self.stricter + Self.outOfRange
        let bare = records(try variant.runBare(arguments), labelled: "set")
        let result = try variant.run(arguments, settings: Self.settings + ["--enforce"])
        let sets = records(result, labelled: "set")
        try #require(sets.count == arguments.count - 2)
        for (set, alone) in zip(sets, bare) {
            let what = "\(set["option"]!)=\(set["requested"]!)"
            #expect(set["result"] == alone["result"] && set["errno"] == alone["errno"], "\(what): the program sees what it would see alone")
        }
        let values = sets.map { $0["value"]! }
        // Weaker requests are replaced by the configured values ...
        #expect(Array(values[0..<6]) == ["1", "30", "5", "4", "25000", "25000"])
        // ... stricter ones are the program's own ...
        #expect(Array(values[6..<10]) == ["10", "2", "2", "1000"])
        // ... and values the kernel refuses stay refused, leaving the last good value.
        #expect(Array(sets[10...].map { $0["result"]! }) == ["-1", "-1", "-1"])
        #expect(Array(values[10...]) == ["10", "2", "1000"])
    }

    @Test("without enforce the program's own later settings win", arguments: [ShimVariant.shipped])
    func withoutEnforce(variant: ShimVariant) throws {
        let result = try variant.run(["setopts", "tcp"] + Self.weaker, settings: Self.settings)
        #expect(records(result, labelled: "set").map { $0["value"]! } == ["0", "7200", "300", "20", "0", "600000"])
    }

    @Test("enforce leaves a UDP socket's options alone", arguments: ShimVariant.allCases)
    func enforceSparesUDP(variant: ShimVariant) throws {
        let result = try variant.run(["setopts", "udp", "keepalive=0"], settings: Self.settings + ["--enforce"])
        #expect(records(result, labelled: "set").first?["value"] == "0")
    }

    /// With the shim first in LD_PRELOAD, ld.so runs the other library's constructor before the
    /// shim's (LD_DEBUG=libs shows the order), and its socket() resolves to the shim: that is the
    /// call the shim serves before its own constructor ran.
    @Test("composes with another preloaded library that hooks socket() and calls it from its constructor", arguments: [true, false])
    func anotherPreload(shimFirst: Bool) throws {
        let other = try Artifacts.otherPreload.get()
        let order = shimFirst ? [Artifacts.shim, other] : [other, Artifacts.shim]
        let result = try runProcess(
            [try Artifacts.probe.get(), "tcp"],
            environment: ["LD_PRELOAD": order.joined(separator: " "), "KEEPIDLE": "30", "OTHER_PRELOAD_REPORT": "1"])
        #expect(records(result, labelled: "other-constructor").first?["keepalive"] == "1", "\(result)")
        let socket = try #require(records(result, labelled: "socket").first, "\(result)")
        #expect(socket["keepalive"] == "1" && socket["idle"] == "30" && socket["errno"] == "4242")
        // Both sockets went through the other library's hook too.
        #expect(records(result, labelled: "other-calls").first?["count"] == "2")
        // And `tcpkeep run` puts the shim in front of it without dropping it.
        let run = try runProcess(
            [Artifacts.tcpkeep, "run", "--idle", "30", "--", try Artifacts.probe.get(), "tcp"],
            environment: ["LD_PRELOAD": other, "OTHER_PRELOAD_REPORT": "1"])
        #expect(records(run, labelled: "other-calls").first?["count"] == "2", "\(run)")
        #expect(records(run, labelled: "socket").first?["idle"] == "30")
    }
}
