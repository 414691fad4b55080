import TCPKeepCore
import Testing

@Suite("Profiles, --detect-within and plan arithmetic")
struct ChoosingValuesTests {
    @Test("each profile's values, and a user timeout of its detection time", arguments: [
        (KeepaliveProfile.lan, 7, 1, 3, 10_000),
        (.datacenter, 30, 5, 3, 45_000),
        (.internet, 80, 20, 4, 160_000),
        (.mobile, 240, 30, 4, 360_000),
    ])
    func profiles(profile: KeepaliveProfile, idle: Int, interval: Int, count: Int, userTimeout: Int) throws {
        let settings = try resolveSettings(profile: profile, detectWithin: nil, explicit: KeepaliveSettings())
        #expect(settings == KeepaliveSettings(idle: idle, interval: interval, count: count, userTimeout: userTimeout))
        try settings.checkRanges()
    }

    @Test("explicit values override a profile's; the user timeout follows them unless given")
    func profileOverrides() throws {
        let idle = try resolveSettings(profile: .lan, detectWithin: nil, explicit: KeepaliveSettings(idle: 60, enforce: true))
        #expect(idle == KeepaliveSettings(idle: 60, interval: 1, count: 3, userTimeout: 63_000, enforce: true))
        let timeout = try resolveSettings(profile: .internet, detectWithin: nil, explicit: KeepaliveSettings(userTimeout: 0))
        #expect(timeout.userTimeout == 0 && timeout.idle == 80)
    }

    @Test("--detect-within: the derived values fit the window, and so does the user timeout", arguments: [
        (2, 1, 1, 1, 2), (3, 1, 1, 2, 3), (4, 1, 1, 3, 4), (10, 7, 1, 3, 10), (30, 21, 3, 3, 30), (45, 33, 4, 3, 45),
        (600, 420, 60, 3, 600),
        // Idle is capped at the kernel's 32767 s; the detection time, and the user timeout with it, get shorter.
        (86400, 32767, 8640, 3, 58687),
    ])
    func detectWithin(window: Int, idle: Int, interval: Int, count: Int, detection: Int) throws {
        let settings = try resolveSettings(profile: nil, detectWithin: window, explicit: KeepaliveSettings())
        #expect(settings == KeepaliveSettings(idle: idle, interval: interval, count: count, userTimeout: detection * 1000))
        #expect(KeepalivePlan(settings).idleDetectionSeconds == detection)
        #expect(detection <= window)
    }

    @Test("--detect-within derives around explicit values, and refuses those that cannot fit")
    func detectWithinPinned() throws {
        let count = try resolveSettings(profile: nil, detectWithin: 30, explicit: KeepaliveSettings(count: 4))
        #expect(count == KeepaliveSettings(idle: 18, interval: 3, count: 4, userTimeout: 30_000))
        #expect(throws: SettingsError("--detect-within 30s cannot hold with the explicit values: an idle connection would take 1m3s (idle 1m, interval 3s, 1 probe, user timeout 1m3s)")) {
            try resolveSettings(profile: nil, detectWithin: 30, explicit: KeepaliveSettings(idle: 60))
        }
        // A pinned idle time leaves slack: the user timeout is the detection time, not the window.
        let idle = try resolveSettings(profile: nil, detectWithin: 30, explicit: KeepaliveSettings(idle: 5))
        #expect(idle == KeepaliveSettings(idle: 5, interval: 3, count: 3, userTimeout: 14_000))
        #expect(throws: SettingsError.self) {
            try resolveSettings(profile: nil, detectWithin: 30, explicit: KeepaliveSettings(userTimeout: 0))
        }
    }

    @Test("windows the kernel's limits cannot meet are refused with the limit")
    func detectWithinRefused() {
        #expect(throws: SettingsError("--detect-within: 1s is too short; the kernel's minimums (1s idle, then 1 probe 1s later) need at least 2s")) {
            try settingsDetecting(within: 1)
        }
        #expect(throws: SettingsError.self) { try settingsDetecting(within: Int(Int32.max) / 1000 + 1) }
        #expect(throws: SettingsError("--profile and --detect-within both choose the values; give one of them")) {
            try resolveSettings(profile: .lan, detectWithin: 10, explicit: KeepaliveSettings())
        }
    }

    @Test("a derived user timeout beyond TCP_USER_TIMEOUT's range is refused")
    func derivedOutOfRange() {
        #expect(throws: SettingsError.self) {
            try resolveSettings(profile: .lan, detectWithin: nil, explicit: KeepaliveSettings(idle: 32767, interval: 32767, count: 127))
        }
    }

    @Test("idle detection follows the kernel: the count, or the user timeout when one is set", arguments: [
        (KeepaliveSettings(idle: 7, interval: 1, count: 3), 10),
        (KeepaliveSettings(idle: 7, interval: 1, count: 3, userTimeout: 10_000), 10),
        // The user timeout replaces the count: abort at the first timer after it, a probe out.
        (KeepaliveSettings(idle: 60, interval: 10, count: 9, userTimeout: 75_000), 80),
        (KeepaliveSettings(idle: 60, interval: 10, count: 9, userTimeout: 1_000), 70),
        (KeepaliveSettings(idle: 60, interval: 10, count: 2, userTimeout: 200_000), 200),
        // Left to the system: 7200 + 75 x 9.
        (KeepaliveSettings(), 7875),
    ])
    func idleDetection(settings: KeepaliveSettings, seconds: Int) {
        #expect(KeepalivePlan(settings).idleDetectionSeconds == seconds)
    }

    @Test("probe traffic: one probe and its reply each idle period")
    func traffic() {
        let lan = KeepalivePlan(KeepaliveProfile.lan.settings)
        #expect(abs(lan.probesPerHour - 3600.0 / 7) < 1e-9)
        #expect(lan.bytesPerHour == 53_486)
        #expect(KeepalivePlan(KeepaliveSettings(idle: 60)).bytesPerHour == 60 * 104)
    }

    @Test("the plan names what the system decides and when data in flight is not bounded")
    func report() {
        let text = planReport(settings: KeepaliveSettings(idle: 600), library: "/usr/lib/tcpkeep/libtcpkeep.so")
        #expect(text.contains("interval between probes       left to the system (net.ipv4.tcp_keepalive_intvl, 75s (1m15s) by default)"))
        #expect(text.contains("idle connection               1275s (21m15s)"))
        #expect(text.contains("data in flight                never bounded by these settings: about 15 min"))
        #expect(text.contains("6 probes an hour, 624 bytes an hour"))
        #expect(text.contains("tcpkeep systemd UNIT --write: /etc/systemd/system/UNIT.service.d/50-tcpkeep.conf"))
        #expect(text.contains("  Environment=LD_PRELOAD=/usr/lib/tcpkeep/libtcpkeep.so\n  Environment=KEEPIDLE=600\n"))
        #expect(text.hasSuffix("tcpkeep sysctl --write: /etc/sysctl.d/60-tcpkeep.conf\n" + """
              # Written by tcpkeep. `tcpkeep sysctl --write` rewrites it.
              # These retime only sockets that already have keepalive on (SO_KEEPALIVE) and no values of their own,
              # in the host's network namespace (each namespace has its own); they never turn keepalive on.
              # To turn it on, use `tcpkeep run` or `tcpkeep systemd`.
              net.ipv4.tcp_keepalive_time = 600

            """))
    }
}
