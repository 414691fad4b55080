import TCPKeepCore
import Testing

/// The parser on /proc text captured on this kind of machine while holder and a closed
/// connection were running, plus a handmade SYN_RECV row in the kernel's request-socket format.
@Suite("/proc/net/tcp parser")
struct ProcNetTCPTests {
    static let tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
           0: 0100007F:C8C9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 28949791 1 00000000084ab05d 100 0 0 10 0                  
           6: 0100007F:99A6 0100007F:B6E1 01 00000000:00000000 02:000AFC0C 00000000     0        0 28949783 2 000000006fbb289b 20 0 0 10 -1                  
           7: 0100007F:EC35 0100007F:A126 01 00000000:00001000 00:00000000 00000000     0        0 28949199 1 000000001f762053 20 8 0 10 -1                  
          11: 0100007F:A126 0100007F:EC35 01 002AC800:00000000 04:0000043B 00000000     0        0 28949198 3 00000000e8aada08 20 0 0 12 -1                  
          12: 0100007F:A4D8 0100007F:DBA5 01 00000000:00000000 02:00000B44 00000000  1000        3 28949789 2 00000000c4563367 20 0 0 10 -1                  
          14: 0100007F:EAC0 0100007F:B591 06 00000000:00000000 03:00001760 00000000     0        0 0 3 000000007843c8c8                                      
          18: 0100007F:1B58 0100007F:C350 03 00000000:00000000 01:00000064 00000002     0        0 0 0 0000000000000000

        """

    static let tcp6 = """
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000000000000000000001000000:D317 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 28949191 1 0000000025872613 100 0 0 10 0
           8: 0000000000000000FFFF00000100007F:DBA5 0000000000000000FFFF00000100007F:A4D8 01 00000000:00000000 00:00000000 00000000     0        0 28949790 1 00000000c995d4c3 20 0 0 10 -1
          11: 00000000000000000000000001000000:D154 00000000000000000000000001000000:D317 01 00000000:00000000 02:00000570 00000000     0        0 28949192 2 00000000f17e747a 20 0 0 10 -1
          13: B80D0120000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
        """

    func parse(_ text: String, file: String = "/proc/net/tcp") throws -> [SocketRecord] {
        try parseProcNetTCP(Array(text.utf8), file: file)
    }

    @Test("IPv4 rows: addresses, states, timers, probes, inodes")
    func ipv4() throws {
        let records = try parse(Self.tcp)
        #expect(records.count == 7)
        #expect(records.map(\.state) == [.listen, .established, .established, .established, .established, .timeWait, .synReceived])
        #expect(records[0].local.description == "127.0.0.1:51401" && records[0].remote.description == "0.0.0.0:0")
        // A large keepalive timer: 0xAFC0C ticks of 1/100 s.
        #expect(records[1].timer == .keepalive && records[1].timerTicks == 0xAFC0C && records[1].timerSeconds == 7198.84)
        #expect(records[2].timer == SocketTimer.none && records[2].receiveQueue == 4096)
        #expect(records[3].timer == .zeroWindowProbe && records[3].sendQueue == 0x2AC800)
        #expect(records[4].probes == 3 && records[4].uid == 1000 && records[4].inode == 28949789)
        #expect(records[5].timer == .timeWait && records[5].inode == 0)
        #expect(records[6].timer == .retransmit && records[6].retransmits == 2 && records[6].timerSeconds == 1)
    }

    @Test("IPv6 rows: ::1, mapped IPv4 shown as IPv4, compressed zeros")
    func ipv6() throws {
        let records = try parse(Self.tcp6, file: "/proc/net/tcp6")
        #expect(records.map(\.local.description) == ["[::1]:54039", "127.0.0.1:56229", "[::1]:53588", "[2001:db8::1]:8080"])
        #expect(records[1].remote.description == "127.0.0.1:42200" && records[1].local.isIPv4)
        #expect(records[3].remote.description == "[::]:0")
    }

    @Test("address formatting follows RFC 5952")
    func formatting() {
        func v6(_ groups: [UInt16]) -> String {
            Endpoint(address: groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }, port: 1)!.formatAddress
        }
        #expect(v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]) == "2001:db8::1:0:0:1")
        #expect(v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]) == "2001:db8:0:1:1:1:1:1")
        #expect(v6([0, 0, 0, 0, 0, 0, 0, 0]) == "::")
        #expect(v6([0xfe80, 0, 0, 0, 0x1, 0, 0, 0]) == "fe80::1:0:0:0")
        #expect(Endpoint(address: [127, 0, 0, 1], port: 80)?.description == "127.0.0.1:80")
        #expect(Endpoint(address: [1, 2, 3], port: 80) == nil)
    }

    static let garbled: [(line: String, reason: String)] = [
        ("   3: 0100007F:EC35 0100007F:A126 01 00000000:00001000", "malformed timer"),
        ("   3: 0100007F:EC35 0100007F:A126 0Z 00000000:00000000 00:00000000 00000000 0 0 1", "unknown connection state"),
        ("   3: 0100007F:EC35 0100007F:A126 0D 00000000:00000000 00:00000000 00000000 0 0 1", "unknown connection state"),
        ("   3: 0100007G:EC35 0100007F:A126 01 00000000:00000000 00:00000000 00000000 0 0 1", "malformed local address"),
        ("   3: 0100007F:EC35 100007F:A126 01 00000000:00000000 00:00000000 00000000 0 0 1", "malformed remote address"),
        ("   3: 0100007F:EC35 0100007F:A126 01 00000000:00000000 00:00000000 00000000 0 0 -1", "malformed inode"),
        ("   3: 0100007F:EC35 0100007F:A126 01 00000000:00000000 00:00000000 00000000 0 x 1", "malformed probe count"),
        ("   3: 0100007F:EC35 0100007F:A126 01 00000000:00000000 00:00000000 00000000 0 0", "missing inode"),
        ("   3 0100007F:EC35 0100007F:A126 01 00000000:00000000 00:00000000 00000000 0 0 1", "no slot number"),
        ("garbage", "no slot number"),
    ]

    @Test("a truncated or garbled line is an error naming the file, the line and what is wrong", arguments: garbled)
    func garbledLine(line: String, reason: String) {
        let text = Self.tcp.split(separator: "\n").prefix(3).joined(separator: "\n") + "\n" + line + "\n"
        #expect(throws: ProcParseError(file: "/proc/net/tcp", line: 4, reason: reason, text: line)) { try parse(text) }
    }

    @Test("an empty table has no rows")
    func empty() throws {
        #expect(try parse("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n").isEmpty)
        #expect(try parse("").isEmpty)
    }
}
