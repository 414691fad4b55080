import TCPKeepCore

/// The audit's Prometheus families for the agent's /metrics: the one audit engine, run at each
/// scrape over every network namespace, into a sink that keeps the text for the response.
struct PrometheusAuditText: AuditSink {
    private var writer: AuditPrometheusWriter
    private(set) var text = ""

    init(containers: [String: ContainerLabels]) {
        writer = AuditPrometheusWriter(containers: containers)
    }

    mutating func reserve(_ count: Int) { writer.reserve(count) }
    mutating func add(_ connection: AuditedConnection) { writer.add(connection, to: &text) }
    mutating func finish(_ summary: AuditSummary) { writer.finish(summary, to: &text) }
    mutating func discard() { text = "" }
}

/// The audit's families now, with the containers named as the agent knows them, and whether the
/// audit could be run (its error otherwise).
func auditMetrics(containers: [String: ContainerLabels]) -> (text: String, error: String?) {
    var sink = PrometheusAuditText(containers: containers)
    do {
        _ = try runAudit(AuditRequest(allNamespaces: true, selection: AuditSelection()), into: &sink)
        return (sink.text, nil)
    } catch {
        return ("", "\(error)")
    }
}
