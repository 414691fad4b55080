import TCPKeepCore
import Testing

/// The formats written connection by connection: the same text as from a whole report, and
/// the container, pod and netns fields in each.
@Suite("Audit formats, streamed")
struct AuditStreamingTests {
    static let container = "3f4e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"

    static func connection(pid: Int32, port: UInt16, status: KeepaliveStatus, container: String? = nil, pod: String? = nil) -> AuditedConnection {
        var record = ClassificationTests.base
        record.local = Endpoint(address: [127, 0, 0, 1], port: port)!
        let owner = SocketOwner(pid: pid, process: "p\(pid)", executable: "/usr/bin/p\(pid)", unit: nil, container: container, pod: pod)
        return AuditedConnection(record: record, owner: owner, options: nil, status: status, netns: 4026531840)
    }

    static let connections = [
        connection(pid: 30, port: 9000, status: .ok, container: container, pod: "0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e"),
        connection(pid: 20, port: 8001, status: .missing),
        connection(pid: 20, port: 8000, status: .ok),
        connection(pid: 31, port: 9100, status: .missing, container: container),
    ]

    /// Every write, and how many came before the summary.
    func stream(_ format: AuditFormat, _ connections: [AuditedConnection]) -> (writes: [String], beforeFinish: Int) {
        var writes: [String] = []
        struct Recorder: AuditOutputStream {
            var writes: [String] = []
            mutating func write(_ string: String) { writes.append(string) }
            mutating func write(utf8 bytes: UnsafeRawBufferPointer) { writes.append(String(decoding: bytes, as: UTF8.self)) }
        }
        var recorder = Recorder()
        var writer = format.makeWriter()
        var summary = AuditSummary(namespaces: [NamespaceRead(netns: nil, source: .netlink)])
        for connection in connections {
            summary.add(connection.status)
            writer.add(connection, to: &recorder)
            writes = recorder.writes
        }
        writer.finish(summary, to: &recorder)
        return (recorder.writes, writes.count)
    }

    @Test("JSON is written as each connection arrives, with netns, container and pod")
    func jsonAsItComes() {
        let (written, beforeFinish) = stream(.json, Self.connections)
        #expect(beforeFinish == 4 && written.count == 5, "one write per connection, then the summary")
        #expect(written[0].contains(#""netns": 4026531840, "container": "\#(Self.container)", "pod": "0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e""#))
        #expect(written[1].contains(#""container": null, "pod": null"#))
    }

    @Test("the table's columns line up whatever the width of each address and port")
    func tableColumnsAlign() throws {
        let endpoints: [([UInt8], UInt16)] = [
            ([1, 2, 3, 4], 5), ([255, 255, 255, 255], 65535), ([10, 0, 100, 9], 80), ([0, 0, 0, 0], 0),
            ([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], 443), ([UInt8](repeating: 0, count: 15) + [1], 6379),
        ]
        let connections = endpoints.indices.map { index in
            var connection = Self.connection(pid: 40, port: 0, status: index % 2 == 0 ? .ok : .missing)
            connection.record.local = Endpoint(address: endpoints[index].0, port: endpoints[index].1)!
            connection.record.remote = Endpoint(address: endpoints[(index + 1) % endpoints.count].0, port: endpoints[index].1 &+ 1)!
            return connection
        }
        let lines = stream(.table, connections).writes.joined().split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.hasPrefix("  STATUS") })
        let rows = lines.filter { $0.hasPrefix("  ok ") || $0.hasPrefix("  missing ") }
        #expect(rows.count == endpoints.count)
        for title in ["LOCAL", "REMOTE", "STATE", "TIMER"] {
            // The header is ASCII: its character offsets are byte offsets.
            let column = try #require(header.range(of: title).map { header.distance(from: header.startIndex, to: $0.lowerBound) })
            for row in rows {
                let bytes = Array(row.utf8)
                #expect(bytes.count > column && bytes[column] != UInt8(ascii: " ") && bytes[column - 1] == UInt8(ascii: " ") && bytes[column - 2] == UInt8(ascii: " "), "\(title) at \(column): '\(row)'")
            }
        }
        #expect(rows.contains { $0.contains("[2001:db8::1]:443") } && rows.contains { $0.contains("255.255.255.255:65535") })
    }

    @Test("the table groups by container, shows 12 characters of its id, and sorts processes and ports")
    func tableGroups() {
        let text = stream(.table, Self.connections).writes.joined()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "no container")
        let p20 = lines.firstIndex { $0.hasPrefix("p20 (pid 20, no unit, netns 4026531840) /usr/bin/p20") }
        let heading = lines.firstIndex(of: "container 3f4e9a0b1c2d (pod 0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e)")
        let p30 = lines.firstIndex { $0.hasPrefix("p30 (pid 30") }
        let p31 = lines.firstIndex { $0.hasPrefix("p31 (pid 31") }
        #expect(p20 != nil && heading != nil && p30 != nil && p31 != nil, "\(text)")
        if let p20, let heading, let p30, let p31 { #expect(p20 < heading && heading < p30 && p30 < p31) }
        #expect(text.range(of: "127.0.0.1:8000").map { text[$0].startIndex } ?? text.endIndex < text.range(of: "127.0.0.1:8001")!.lowerBound)
        #expect(!text.contains(Self.container), "the whole id is JSON's")
        #expect(lines.last(where: { !$0.isEmpty }) == "4 connections: 2 ok, 2 missing, 0 too-slow, 0 probing, 0 unknown; read with netlink")
    }

    @Test("Prometheus: one series per process, unit, container, pod and status, never per connection")
    func prometheusBounded() {
        let many = (0..<500).map { Self.connection(pid: 40 + Int32($0 % 2), port: UInt16(10000 + $0), status: .missing, container: Self.container) }
        let text = stream(.prometheus, many).writes.joined()
        let series = text.split(separator: "\n").filter { $0.hasPrefix("tcpkeep_connections{") }
        #expect(series.count == 2, "\(series)")
        #expect(series.contains(#"tcpkeep_connections{process="p40",unit="",container="\#(Self.container)",pod="",status="missing"} 250"#))
        #expect(text.contains(#"tcpkeep_connections_by_status{status="missing"} 500"#))
        #expect(text.contains(#"tcpkeep_network_namespaces{source="netlink"} 1"#))
    }

    @Test("a socket record stays compact: an audit holds one per socket read")
    func compactRecord() {
        #expect(MemoryLayout<SocketRecord>.stride == 80)
    }

    @Test("the summary says how each namespace was read")
    func sources() {
        var summary = AuditSummary(namespaces: [
            NamespaceRead(netns: 1, source: .netlink), NamespaceRead(netns: 2, source: .proc, note: "netlink setns: Operation not permitted"),
            NamespaceRead(netns: 3, source: nil, note: "no process in it to read /proc/PID/net through"),
        ])
        summary.add(.ok)
        var text = ""
        var writer = AuditFormat.table.makeWriter()
        writer.finish(summary, to: &text)
        #expect(text == "1 connections: 1 ok, 0 missing, 0 too-slow, 0 probing, 0 unknown; 3 network namespaces: 1 read with netlink, 1 from /proc (netlink setns: Operation not permitted), 1 not read (no process in it to read /proc/PID/net through)\n")
        #expect(CheckVerdict.pass.refusal == nil && CheckVerdict.fail.refusal == nil)
        #expect(CheckVerdict.nothingSelected.refusal?.hasPrefix("--check: no connection matched the selection") == true)
        #expect(summary.checkVerdict(for: AuditSelection()) == .cannotVouch("--check cannot vouch for the selection: 1 network namespaces could not be read (no process in it to read /proc/PID/net through); run as root"))
    }
}
