import TCPKeepCore
import Testing

/// Kernel mode's counters as the audit's Prometheus output carries them.
@Suite("Kernel mode's counters in Prometheus")
struct KernelMetricsTests {
    static let mount = "/sys/fs/cgroup/unified"
    static let containerID = String(repeating: "ab", count: 32)

    func attachment(_ pins: String, cgroup: String?, timedOut: UInt64? = 3) -> KernelAttachment {
        KernelAttachment(
            pinDirectory: pins, cgroup: cgroup, settings: KeepaliveSettings(idle: 30), sockopsProgramID: 1, setsockoptProgramID: 2, mapID: 3,
            sockopsAttached: true, setsockoptAttached: false,
            counters: KernelCounters(configuredActive: 10, configuredPassive: 20, kept: 1, enforced: 0, timedOut: timedOut))
    }

    @Test("kernel status's table: a cgroup path with a line feed, an escape and a space stays one row of one column")
    func hostileCgroupPath() {
        let cgroup = "\(Self.mount)/x\n  fake row\u{1b}[31m"
        let table = KernelStatusFormat.table.render([attachment("\(kernelPinRoot)/11", cgroup: cgroup)])
        let lines = table.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(!table.contains("\u{1b}"))
        #expect(lines[1].hasPrefix("  \(Self.mount)/x\\x0a\\x20\\x20fake\\x20row\\x1b[31m "))
    }

    @Test("a unit's pins name the unit; the unit's name comes back from its pin directory")
    func unitPins() throws {
        for name in ["redis-server.service", "a_b.c@d.service", "x_2e.service"] {
            #expect(unitName(ofPinDirectory: unitPinDirectory(try UnitName(name))) == name)
        }
        #expect(unitName(ofPinDirectory: "\(kernelPinRoot)/4242") == nil)
    }

    @Test("one series per attachment and direction, labelled by cgroup, unit, container and pod; a gone cgroup left out")
    func series() throws {
        let text = formatKernelCountersPrometheus([
            attachment("\(kernelPinRoot)/11", cgroup: "\(Self.mount)/system.slice/redis-server.service"),
            attachment("\(kernelPinRoot)/12", cgroup: "\(Self.mount)/libpod_parent/libpod-\(Self.containerID)", timedOut: 0),
            attachment(unitPinDirectory(try UnitName("app.service")), cgroup: nil, timedOut: 7),
            attachment("\(kernelPinRoot)/13", cgroup: nil),
        ], cgroupMount: Self.mount)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains(
            "tcpkeep_kernel_connections_timed_out_total{cgroup=\"/system.slice/redis-server.service\",unit=\"redis-server.service\",container=\"\",pod=\"\"} 3"))
        #expect(lines.contains(
            "tcpkeep_kernel_connections_configured_total{cgroup=\"/libpod_parent/libpod-\(Self.containerID)\",unit=\"\",container=\"\(Self.containerID)\",pod=\"\",direction=\"passive\"} 20"))
        #expect(lines.contains("tcpkeep_kernel_connections_timed_out_total{cgroup=\"\",unit=\"app.service\",container=\"\",pod=\"\"} 7"))
        for family in ["connections_configured", "connections_kept", "setsockopt_enforced", "connections_timed_out"] {
            #expect(lines.contains("# TYPE tcpkeep_kernel_\(family)_total counter"))
            // Three attachments (the fourth's cgroup is gone), two directions for configured.
            #expect(lines.filter { $0.hasPrefix("tcpkeep_kernel_\(family)_total{") }.count == (family == "connections_configured" ? 6 : 3))
        }
        #expect(formatKernelCountersPrometheus([], cgroupMount: Self.mount).isEmpty)
    }

    @Test("where the kernel cannot count timeouts: no timed_out series, null in kernel status's JSON, - in its table")
    func timeoutsNotCounted() throws {
        let uncounted = attachment("\(kernelPinRoot)/15", cgroup: "\(Self.mount)/system.slice/old.service", timedOut: nil)
        let counted = attachment("\(kernelPinRoot)/16", cgroup: "\(Self.mount)/system.slice/new.service", timedOut: 0)
        let lines = formatKernelCountersPrometheus([uncounted, counted], cgroupMount: Self.mount).split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("tcpkeep_kernel_connections_timed_out_total{") }
            == ["tcpkeep_kernel_connections_timed_out_total{cgroup=\"/system.slice/new.service\",unit=\"new.service\",container=\"\",pod=\"\"} 0"])
        #expect(lines.filter { $0.hasPrefix("tcpkeep_kernel_connections_kept_total{") }.count == 2)
        let json = KernelStatusFormat.json.render([uncounted, counted])
        #expect(json.contains("\"enforced\": 0, \"timed_out\": null}"), "\(json)")
        #expect(json.contains("\"enforced\": 0, \"timed_out\": 0}"), "\(json)")
        let rows = KernelStatusFormat.table.render([uncounted]).split(separator: "\n")
        // The last columns: KEPT, ENFORCED, TIMED_OUT, PINS; then the line that says why.
        #expect(rows.count == 3 && rows[1].split(separator: " ").suffix(4) == ["1", "0", "-", "\(kernelPinRoot)/15"], "\(rows)")
        #expect(rows.last?.hasPrefix("TIMED_OUT is - where the kernel did not take the program that counts timeouts") == true)
        #expect(KernelStatusFormat.table.render([counted]).split(separator: "\n").count == 2)
    }

    @Test("a cgroup path with a quote, a backslash and a line feed stays inside its label")
    func hostilePath() {
        let text = formatKernelCountersPrometheus([attachment("\(kernelPinRoot)/14", cgroup: "\(Self.mount)/a\"b\\c\nd")], cgroupMount: Self.mount)
        #expect(text.contains("cgroup=\"/a\\\"b\\\\c\\nd\""), "\(text)")
        #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("#") || $0.hasPrefix("tcpkeep_kernel_") })
    }
}
