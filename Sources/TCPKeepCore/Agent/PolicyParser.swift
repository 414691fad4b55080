import Yams

/// Why a policy file was refused: the place in the file (from 1) and what is wrong there.
public struct PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, _ message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// Parses a policy file's text. Everything is checked: an unknown key, a value of the wrong
/// kind or out of range, a bad glob or impossible settings refuses the whole file, at the
/// first mistake, with its line and column.
public func parsePolicy(_ text: String) throws(PolicyError) -> AgentPolicy {
    let root: Node
    do {
        guard let node = try Yams.compose(yaml: text, .basic) else {
            throw PolicyError(line: 1, column: 1, "the file is empty; a policy needs at least `rules:`")
        }
        root = node
    } catch let error as PolicyError {
        throw error
    } catch let error as YamlError {
        throw policyError(fromYaml: error)
    } catch {
        throw PolicyError(line: 1, column: 1, "not YAML: \(error)")
    }
    let top = try mapping(root, "the policy", keys: ["listen", "root", "rules", "default"])
    var policy = AgentPolicy(rules: [])
    if let listen = top["listen"] {
        policy.listen = try place(listen) { text throws(SettingsError) in try ListenAddress(parsing: text) }
    }
    if let root = top["root"] {
        policy.root = try place(root) { text throws(SettingsError) in
            guard !text.contains("*"), !text.contains("?") else { throw SettingsError("'\(text)': the root is one cgroup, not a glob") }
            return try PathGlob(text).description
        }
    }
    guard let rules = top["rules"] else {
        throw PolicyError(line: root.mark?.line ?? 1, column: root.mark?.column ?? 1, "`rules:` is missing (an empty list, `rules: []`, is allowed)")
    }
    guard case .sequence(let sequence) = rules else {
        throw at(rules, "`rules:` must be a list of rules, each `- match: {...}` and its settings")
    }
    for rule in sequence {
        policy.rules.append(try parseRule(rule))
    }
    if let fallback = top["default"] {
        let fields = try mapping(fallback, "`default:`", keys: settingKeys)
        policy.fallback = try parseSettings(fields, of: fallback)
    }
    return policy
}

private let selectorKeys = ["cgroup", "unit", "container", "annotation", "namespace", "pod"]
private let settingKeys = ["profile", "detect-within", "idle", "interval", "count", "user-timeout", "enforce"]

private func parseRule(_ node: Node) throws(PolicyError) -> PolicyRule {
    let fields = try mapping(node, "a rule", keys: ["name", "match"] + settingKeys)
    guard let match = fields["match"] else { throw at(node, "a rule needs `match:` (\(selectorKeys.joined(separator: ", ")))") }
    let selector = try parseSelector(match)
    let name = try fields["name"].map { node throws(PolicyError) in try printableName(node) }
    return PolicyRule(name: name, selector: selector, settings: try parseSettings(fields, of: node))
}

private func parseSelector(_ node: Node) throws(PolicyError) -> WorkloadSelector {
    let fields = try mapping(node, "`match:`", keys: selectorKeys)
    guard fields.count == 1, let (key, value) = fields.first else {
        throw at(node, "`match:` takes exactly one of \(selectorKeys.joined(separator: ", "))")
    }
    switch key {
    case "cgroup":
        return .cgroup(try place(value) { text throws(SettingsError) in try PathGlob(text) })
    case "unit":
        return .unit(try place(value) { text throws(SettingsError) in try PathGlob(text, allowingSlashes: false) })
    case "namespace", "pod":
        let glob = try place(value) { text throws(SettingsError) in try PathGlob(text, allowingSlashes: false, naming: "a Kubernetes \(key) name") }
        return key == "pod" ? .pod(glob) : .namespace(glob)
    case "container":
        return .container(try place(value) { text throws(SettingsError) in
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
                throw SettingsError("'\(text)': a container id or name prefix is letters, digits, '_', '.' and '-'")
            }
            return text
        })
    default:
        return try place(value) { text throws(SettingsError) in
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue! >= 0x20 }) else {
                throw SettingsError("'\(text)': expected KEY or KEY=VALUE, a key without spaces")
            }
            return .annotation(key: key, value: parts.count == 2 ? String(parts[1]) : nil)
        }
    }
}

/// A rule's or the default's settings, resolved as the command line resolves them.
private func parseSettings(_ fields: [String: Node], of node: Node) throws(PolicyError) -> KeepaliveSettings {
    var explicit = KeepaliveSettings()
    for (key, option) in [("idle", KeepaliveOption.idle), ("interval", .interval), ("count", .count), ("user-timeout", .userTimeout)] {
        guard let value = fields[key] else { continue }
        explicit[keyPath: option.keyPath] = try place(value) { text throws(SettingsError) in try option.parse(text) }
    }
    if let enforce = fields["enforce"] {
        explicit.enforce = try place(enforce) { text throws(SettingsError) in
            switch text {
            case "true": return true
            case "false": return false
            default: throw SettingsError("'\(text)': enforce is true or false")
            }
        }
    }
    let profile = try fields["profile"].map { node throws(PolicyError) in
        try place(node) { text throws(SettingsError) in
            guard let profile = KeepaliveProfile(rawValue: text) else {
                throw SettingsError("'\(text)': not a profile; expected \(KeepaliveProfile.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return profile
        }
    }
    let window = try fields["detect-within"].map { node throws(PolicyError) in
        try place(node) { text throws(SettingsError) in
            do throws(ValueError) {
                return try parseDuration(text, in: .seconds)
            } catch {
                throw SettingsError("'\(text)': not \(DurationUnit.seconds.expectation)")
            }
        }
    }
    do {
        return try resolveSettings(profile: profile, detectWithin: window, explicit: explicit)
    } catch {
        throw at(node, error.description.replacingOccurrences(of: "--", with: ""))
    }
}

/// A mapping's entries by key, every key known and given once.
private func mapping(_ node: Node, _ what: String, keys: [String]) throws(PolicyError) -> [String: Node] {
    guard case .mapping(let mapping) = node else { throw at(node, "\(what) must be a mapping of keys to values") }
    var fields: [String: Node] = [:]
    for (key, value) in mapping {
        guard case .scalar(let scalar) = key else { throw at(key, "a key must be a plain word") }
        guard keys.contains(scalar.string) else {
            throw at(key, "unknown key '\(printable(scalar.string))' in \(what); expected one of: \(keys.joined(separator: ", "))")
        }
        guard fields[scalar.string] == nil else { throw at(key, "'\(scalar.string)' is given twice in \(what)") }
        fields[scalar.string] = value
    }
    return fields
}

/// A scalar's text turned into a value; a refusal is placed at the scalar.
private func place<T>(_ node: Node, _ parse: (String) throws(SettingsError) -> T) throws(PolicyError) -> T {
    guard case .scalar(let scalar) = node else { throw at(node, "expected a single value here, not a list or mapping") }
    do {
        return try parse(scalar.string)
    } catch {
        throw at(node, error.description)
    }
}

private func printableName(_ node: Node) throws(PolicyError) -> String {
    try place(node) { text throws(SettingsError) in
        guard !text.isEmpty, text.count <= 64, text.allSatisfy({ $0.isASCII && $0.asciiValue! >= 0x20 && $0.asciiValue! < 0x7f }) else {
            throw SettingsError("a rule's name is 1 to 64 printable ASCII characters")
        }
        return text
    }
}

private func at(_ node: Node, _ message: String) -> PolicyError {
    PolicyError(line: node.mark?.line ?? 1, column: node.mark?.column ?? 1, message)
}

/// Text from the file in a message: control characters as escapes, so it never adds a line.
private func printable(_ text: String) -> String {
    String(text.unicodeScalars.flatMap { scalar -> [Character] in
        scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value)
            ? Array(scalar.escaped(asASCII: true)) : [Character(scalar)]
    })
}

private func policyError(fromYaml error: YamlError) -> PolicyError {
    switch error {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
        return PolicyError(line: mark.line, column: mark.column, "not valid YAML: \(problem)")
    case .reader(let problem, _, _, _):
        return PolicyError(line: 1, column: 1, "not readable as YAML: \(problem)")
    default:
        return PolicyError(line: 1, column: 1, "not valid YAML")
    }
}
