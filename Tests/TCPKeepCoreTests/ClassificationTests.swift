import TCPKeepCore
import Testing

@Suite("Classification")
struct ClassificationTests {
    static let base = try! parseProcNetTCP(Array(ProcNetTCPTests.tcp.utf8), file: "t")[1]

    func record(_ state: TCPState = .established, timer: SocketTimer, seconds: Double = 28.79, probes: UInt32 = 0) -> SocketRecord {
        var record = Self.base
        record.state = state
        record.timer = timer
        record.timerTicks = UInt64(seconds * 100)
        record.probes = probes
        return record
    }

    @Test("from the /proc timer alone")
    func fromTimer() {
        #expect(classify(record(timer: .keepalive), options: nil, maxIdle: nil) == .ok)
        #expect(classify(record(timer: .keepalive), options: nil, maxIdle: 30) == .ok)
        #expect(classify(record(timer: .keepalive, seconds: 31), options: nil, maxIdle: 30) == .tooSlow)
        #expect(classify(record(timer: .none), options: nil, maxIdle: nil) == .missing)
        #expect(classify(record(timer: .keepalive, probes: 2), options: nil, maxIdle: nil) == .probing)
        #expect(classify(record(timer: .retransmit), options: nil, maxIdle: nil) == .unknown)
        #expect(classify(record(timer: .zeroWindowProbe, probes: 1), options: nil, maxIdle: nil) == .unknown)
        #expect(classify(record(.closeWait, timer: .none), options: nil, maxIdle: nil) == .missing)
        #expect(classify(record(.listen, timer: .none), options: nil, maxIdle: nil) == .unknown)
        #expect(classify(record(.finWait2, timer: .keepalive), options: nil, maxIdle: nil) == .unknown)
        #expect(classify(record(.timeWait, timer: .timeWait), options: nil, maxIdle: nil) == .unknown)
    }

    @Test("the socket's own options decide where they are known")
    func fromOptions() {
        let on = SocketOptions(keepalive: true, idle: 60, interval: 10, count: 3, userTimeout: 0)
        var off = on
        off.keepalive = false
        #expect(classify(record(timer: .retransmit), options: on, maxIdle: nil) == .ok)
        #expect(classify(record(timer: .retransmit), options: off, maxIdle: nil) == .missing)
        #expect(classify(record(timer: .keepalive, seconds: 5), options: on, maxIdle: 30) == .tooSlow)
        #expect(classify(record(.listen, timer: .none), options: on, maxIdle: 60) == .ok)
        #expect(classify(record(timer: .keepalive, probes: 1), options: on, maxIdle: nil) == .probing)
    }
}
