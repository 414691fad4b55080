import TCPKeepCore

/// The audit's Prometheus families for the agent's /metrics: the one audit engine, run at each
/// scrape over every network namespace, into a sink that keeps the text for the response, with
/// kernel mode's counters after them as `tcpkeep audit --format prometheus` writes them.
struct PrometheusAuditText: AuditSink {
    private var writer: AuditPrometheusWriter
    private(set) var text = ""
    private(set) var warning: String?

    init(containers: [String: ContainerLabels]) {
        writer = AuditPrometheusWriter(containers: containers)
    }

    mutating func reserve(_ count: Int) { writer.reserve(count) }
    mutating func add(_ connection: AuditedConnection) { writer.add(connection, to: &text) }

    mutating func finish(_ summary: AuditSummary) {
        writer.finish(summary, to: &text)
        let kernel = kernelCounterFamilies()
        text += kernel.text
        warning = kernel.warnings.isEmpty ? nil : kernel.warnings.joined(separator: "; ")
    }

    mutating func discard() { text = "" }
}

/// The audit's families now, with the containers named as the agent knows them, and why they
/// are missing or incomplete (nil when whole).
func auditMetrics(containers: [String: ContainerLabels]) -> (text: String, error: String?) {
    var sink = PrometheusAuditText(containers: containers)
    do {
        _ = try runAudit(AuditRequest(allNamespaces: true, selection: AuditSelection()), into: &sink)
        return (sink.text, sink.warning)
    } catch {
        return ("", "\(error)")
    }
}
