import TCPKeepCore
import Testing

@Suite("Audit inputs and outputs")
struct AuditTextTests {
    @Test("the unit comes from the systemd hierarchy, innermost unit first")
    func cgroupUnits() {
        #expect(systemdUnit(in: ProcessCgroups(parsing: "0::/system.slice/redis-server.service\n")) == "redis-server.service")
        #expect(systemdUnit(in: ProcessCgroups(parsing: "0::/system.slice/docker.service/payload\n")) == "docker.service")
        #expect(systemdUnit(in: ProcessCgroups(parsing: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope\n")) == "app-foo.scope")
        #expect(systemdUnit(in: ProcessCgroups(parsing: "12:pids:/\n1:name=systemd:/system.slice/cron.service\n0::/\n")) == "cron.service")
        #expect(systemdUnit(in: ProcessCgroups(parsing: "0::/\n")) == nil)
        #expect(systemdUnit(in: ProcessCgroups(parsing: "4:memory:/process_api/78610ac4\n0::/\n")) == nil)
        #expect(systemdUnit(in: ProcessCgroups(parsing: "0::/system.slice\n")) == nil)
        let hybrid = ProcessCgroups(parsing: "12:pids:/a\n1:name=systemd:/system.slice/cron.service\n0::/b\nbroken\n")
        #expect(hybrid == ProcessCgroups(unified: "/b", systemd: "/system.slice/cron.service"))
    }

    @Test("CAP_SYS_PTRACE is read from CapEff")
    func ptraceCapability() {
        #expect(grantsPtrace(status: "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n"))
        #expect(grantsPtrace(status: "CapEff:\t0000000000080000\n"))
        #expect(!grantsPtrace(status: "CapPrm:\t000001ffffffffff\nCapEff:\t0000000000000000\n"))
        #expect(!grantsPtrace(status: "CapEff:\tzz\n"))
        #expect(!grantsPtrace(status: ""))
    }

    @Test("ports and ranges", arguments: [("7000", 7000...7000), ("17000-17002", 17000...17002), ("0", 0...0)])
    func ports(text: String, range: ClosedRange<UInt16>) {
        #expect(PortRange(text)?.range == range)
    }

    @Test("bad ports are refused", arguments: ["", "-", "70000", "17002-17000", "1-2-3", "a", "+5", " 5"])
    func badPorts(text: String) {
        #expect(PortRange(text) == nil)
    }

    @Test("JSON and Prometheus text escape what they must")
    func escaping() {
        #expect(json("a\"b\\c\nd\u{1}") == #""a\"b\\c\nd\u0001""#)
        let record = ClassificationTests.base
        let owner = SocketOwner(pid: 7, process: "we\"ird\\name", executable: nil, unit: nil)
        var writer = AuditFormat.prometheus.makeWriter()
        var text = ""
        writer.add(AuditedConnection(record: record, owner: owner, options: nil, status: .ok), to: &text)
        writer.finish(AuditSummary(), to: &text)
        #expect(text.contains(#"tcpkeep_connections{process="we\"ird\\name",unit="",container="",pod="",status="ok"} 1"#))
    }
}
