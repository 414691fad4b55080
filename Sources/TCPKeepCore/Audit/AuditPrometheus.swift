/// Gauges for node_exporter's textfile collector. The series are bounded by what owns the
/// connections, never by the connections: one per (process name, unit, container, pod,
/// status) that occurs, none per PID, port or address; the totals by status (every status,
/// zeros included); the unmapped sockets; the namespaces by how they were read.
public struct AuditPrometheusWriter: AuditWriter {
    /// Connections by process (nil: unknown) and status, each process's owner kept once: the
    /// labels, which processes of one name and unit share, are made at `finish`, not per row.
    private var processes: [Int32?: Int] = [:]
    private var owners: [SocketOwner?] = []
    private var counts: [[KeepaliveStatus: Int]] = []
    /// The agent's names for containers, by runtime id: with them, the series carry a
    /// `namespace` label and name the pod and container rather than giving their ids.
    private let containers: [String: ContainerLabels]?

    public init(containers: [String: ContainerLabels]? = nil) {
        self.containers = containers
    }

    public mutating func reserve(_ count: Int) {}

    public mutating func add(_ connection: AuditedConnection, to output: inout some AuditOutputStream) {
        let pid = connection.owner?.pid
        let index = processes[pid] ?? {
            processes[pid] = owners.count
            owners.append(connection.owner)
            counts.append([:])
            return owners.count - 1
        }()
        counts[index][connection.status, default: 0] += 1
    }

    public mutating func finish(_ summary: AuditSummary, to output: inout some AuditOutputStream) {
        output.write("""
            # HELP tcpkeep_connections TCP connections by owning process, systemd unit, \(containers == nil ? "" : "namespace, ")container, pod and keepalive status.
            # TYPE tcpkeep_connections gauge

            """)
        var series: [String: Int] = [:]
        for (owner, byStatus) in zip(owners, counts) {
            let named = owner?.container.flatMap { containers?[$0] }
            let workload = [("container", named?.container ?? owner?.container ?? ""), ("pod", named?.pod ?? owner?.pod ?? "")]
            let kubernetes = containers == nil ? [] : [("namespace", named?.namespace ?? "")]
            for (status, count) in byStatus {
                let labels = prometheusLabels(
                    [("process", owner?.process.string ?? ""), ("unit", owner?.unit ?? "")] + kubernetes + workload + [("status", status.rawValue)])
                series[labels, default: 0] += count
            }
        }
        for labels in series.keys.sorted() {
            output.write("tcpkeep_connections\(labels) \(series[labels]!)\n")
        }
        output.write("""
            # HELP tcpkeep_connections_by_status TCP connections by keepalive status.
            # TYPE tcpkeep_connections_by_status gauge

            """)
        for status in KeepaliveStatus.allCases {
            output.write("tcpkeep_connections_by_status\(prometheusLabels([("status", status.rawValue)])) \(summary.count(status))\n")
        }
        output.write("""
            # HELP tcpkeep_unmapped_sockets Selected sockets that could not be mapped to a process.
            # TYPE tcpkeep_unmapped_sockets gauge
            tcpkeep_unmapped_sockets \(summary.gaps.unmappedSockets)

            """)
        if !summary.namespaces.isEmpty {
            output.write("""
                # HELP tcpkeep_network_namespaces Network namespaces audited, by how their sockets were read (unreadable: not at all).
                # TYPE tcpkeep_network_namespaces gauge

                """)
            for source in AuditSource.allCases.map(\.rawValue) + ["unreadable"] {
                let count = summary.namespaces.filter { ($0.source?.rawValue ?? "unreadable") == source }.count
                output.write("tcpkeep_network_namespaces\(prometheusLabels([("source", source)])) \(count)\n")
            }
        }
        (processes, owners, counts) = ([:], [], [])
    }
}

func prometheusLabels(_ labels: [(String, String)]) -> String {
    let escaped = labels.map { name, value in "\(name)=\"\(prometheusLabelValue(value))\"" }
    return "{" + escaped.joined(separator: ",") + "}"
}

/// A label value in the text exposition format, which escapes a backslash, a quote and a line
/// feed. It has no escape for the other characters a terminal acts on: each of their bytes is
/// written as the text `\xNN` (its backslash escaped), as the table shows them.
func prometheusLabelValue(_ text: String) -> String {
    replacingScalars(in: text) { scalar in
        switch scalar {
        case "\\": "\\\\"
        case "\"": "\\\""
        case "\n": "\\n"
        case _ where isUnsafeForDisplay(scalar): String(terminalSafe(String(scalar)).flatMap { $0 == "\\" ? "\\\\" : String($0) })
        default: nil
        }
    }
}
