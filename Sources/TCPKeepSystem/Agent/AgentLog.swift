import Logging
import TCPKeepCore

/// The agent's log: one line per event on stderr (the journal, under systemd), `level: message`
/// then the metadata as `key=value`. Everything from elsewhere in it is escaped, so a cgroup
/// named with a line feed or a terminal escape stays on its line and shows as written.
public struct AgentLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let output: Output

    public init(output: Output = .standardError) {
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(event.level): \(loggable(event.message.description))"
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in fields.keys.sorted() {
            let value = loggable(fields[key]!.description)
            line += value.contains(" ") || value.isEmpty ? " \(key)=\"\(value.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\\\""))\"" : " \(key)=\(value)"
        }
        output.write(line + "\n")
    }
}
