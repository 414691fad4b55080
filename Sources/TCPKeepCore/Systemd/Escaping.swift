/// `text` with backslash, double quote and newline (and tab, when asked) written as C escapes,
/// the quoting Prometheus label values and systemd's quoted assignments share.
public func backslashEscaped(_ text: String, tabs: Bool = false) -> String {
    var escaped = ""
    for character in text {
        switch character {
        case "\\": escaped += "\\\\"
        case "\"": escaped += "\\\""
        case "\n": escaped += "\\n"
        case "\t" where tabs: escaped += "\\t"
        default: escaped.append(character)
        }
    }
    return escaped
}

extension String {
    /// Every `target` replaced: Foundation's spelling, without Foundation.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
