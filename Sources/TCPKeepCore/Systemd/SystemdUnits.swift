/// A checked systemd unit name of a kind tcpkeep can configure.
public struct UnitName: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case service, socket }

    public let name: String
    public let kind: Kind

    public var description: String { name }

    /// A unit name tcpkeep can configure: any valid name (`checkedUnitName`) of a service or a
    /// socket unit.
    public init(_ text: String) throws(SettingsError) {
        let name = try checkedUnitName(text)
        let suffix = String(name[name.index(after: name.lastIndex(of: ".")!)...])
        guard let kind = Kind(rawValue: suffix) else {
            throw SettingsError("'\(text)': tcpkeep configures .service and .socket units, not .\(suffix)")
        }
        self.name = name
        self.kind = kind
    }

    /// The socket unit of the same name that may pass a service its sockets; nil for a socket unit.
    public var socketUnit: UnitName? {
        guard kind == .service else { return nil }
        // The service's valid stem with a shorter suffix: valid too.
        return UnitName(placeholder: String(name.dropLast(".service".count)), kind: .socket)
    }

    /// A name valid by construction: one that stands for any unit in examples, or one made
    /// from a checked name.
    init(placeholder: String, kind: Kind) {
        name = "\(placeholder).\(kind.rawValue)"
        self.kind = kind
    }

    /// `foo@.service` for `foo@bar.service`; nil for a unit that is no template instance.
    public var template: String? {
        guard let at = name.firstIndex(of: "@") else { return nil }
        let dot = name.lastIndex(of: ".")!
        return name.index(after: at) == dot ? nil : String(name[...at] + name[dot...])
    }

    /// The names of the drop-in directories systemd reads for this unit, least specific first:
    /// the type-wide `service.d`, one per dash-separated prefix (`a-.service.d` for
    /// `a-b.service`), the template's, the unit's own.
    public var dropInDirectoryNames: [String] {
        let suffix = "." + kind.rawValue
        let stem = String((template ?? name).dropLast(suffix.count))
        let dashes = stem.indices.filter { stem[$0] == "-" }
        let prefixes = dashes.map { String(stem[...$0]) + suffix + ".d" }
        return [kind.rawValue + ".d"] + prefixes + (template.map { [$0 + ".d"] } ?? []) + [name + ".d"]
    }
}

/// The unit types systemd knows (src/basic/unit-def.c).
private let knownUnitTypes: Set<String> = [
    "service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope",
]

/// `text` checked by systemd's rules (unit_name_is_valid): at most 255 characters of
/// `[A-Za-z0-9:_.\-]`, one `@` between a non-empty prefix and an instance, which is empty in a
/// template, and a unit type suffix. A name without a dot is a service, as for systemctl, and
/// comes back with `.service`.
public func checkedUnitName(_ text: String) throws(SettingsError) -> String {
    guard !text.isEmpty else { throw SettingsError("the unit name is empty") }
    guard !text.contains("/") else {
        throw SettingsError("'\(text)' is a path; give the unit's name, e.g. redis-server.service")
    }
    // Only ASCII is allowed, and checked first: a non-ASCII scalar may join the "." after it
    // into one Character (U+070F does), which the searches for "." below would not find.
    func notAllowed(_ bad: String) -> SettingsError {
        SettingsError("'\(text)': '\(bad)' is not allowed in a unit name (only A-Z a-z 0-9 : _ . \\ - and one @)")
    }
    if let bad = text.unicodeScalars.first(where: { !$0.isASCII }) { throw notAllowed(String(bad)) }
    var name = text
    if let dot = text.lastIndex(of: ".") {
        let suffix = String(text[text.index(after: dot)...])
        guard knownUnitTypes.contains(suffix) else {
            throw SettingsError("'\(text)': '.\(suffix)' is not a systemd unit type; name the unit in full, e.g. \(text).service")
        }
    } else {
        name += ".service"
    }
    guard name.utf8.count <= 255 else {
        throw SettingsError("'\(text)': a unit name has at most 255 characters")
    }
    let dot = name.lastIndex(of: ".")!
    let stem = name[..<dot]
    let allowed = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber || ":_.\\-".contains(c)) }
    if let bad = stem.first(where: { !allowed($0) && $0 != "@" }) { throw notAllowed(String(bad)) }
    let parts = stem.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count <= 2, !parts[0].isEmpty else {
        throw SettingsError("'\(text)': an @ must follow a non-empty template name, once (name@instance\(name[dot...]))")
    }
    return name
}

/// Where systemd looks for unit files, highest priority first (systemd.unit(5), system units).
public let unitSearchDirectories = [
    "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
    "/lib/systemd/system",
]

/// The drop-in tcpkeep writes and removes, relative to the root.
public func tcpkeepDropInPath(_ unit: UnitName) -> String {
    "/etc/systemd/system/\(unit.name).d/\(tcpkeepDropInName)"
}

public let tcpkeepDropInName = "50-tcpkeep.conf"

/// One drop-in found on disk: which search directory (its index in `unitSearchDirectories`),
/// which drop-in directory (its index in `dropInDirectoryNames`), the file's name.
public struct DropInCandidate: Equatable, Sendable {
    public let searchDirectory: Int
    public let dropInDirectory: Int
    public let fileName: String
    public let path: String

    public init(searchDirectory: Int, dropInDirectory: Int, fileName: String, path: String) {
        self.searchDirectory = searchDirectory
        self.dropInDirectory = dropInDirectory
        self.fileName = fileName
        self.path = path
    }
}

/// The drop-ins systemd applies, in its order: by file name across all directories; of files
/// with the same name the one in the highest-priority search directory (then the most specific
/// drop-in directory) masks the others.
public func orderedDropIns(_ candidates: [DropInCandidate]) -> [DropInCandidate] {
    let winners = Dictionary(grouping: candidates, by: \.fileName).values.map { same in
        same.min { ($0.searchDirectory, -$0.dropInDirectory) < ($1.searchDirectory, -$1.dropInDirectory) }!
    }
    return winners.filter { $0.fileName.hasSuffix(".conf") }.sorted { $0.fileName < $1.fileName }
}

/// One `key=value` of a unit file, in the section it appeared in.
public struct UnitFileEntry: Equatable, Sendable {
    public let section: String
    public let key: String
    public let value: String
}

/// The assignments of a unit file or drop-in, in order: comment lines (`#`, `;`) skipped, lines
/// ending in a backslash joined with the next, whitespace around keys and values trimmed.
public func unitFileEntries(_ text: String) -> [UnitFileEntry] {
    var entries: [UnitFileEntry] = []
    var section = ""
    var pending = ""
    for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = rawLine.trimmingWhitespace
        if pending.isEmpty && (line.hasPrefix("#") || line.hasPrefix(";")) { continue }
        if line.hasSuffix("\\") {
            pending += line.dropLast() + " "
            continue
        }
        let logical = pending + line
        pending = ""
        if logical.hasPrefix("[") && logical.hasSuffix("]") {
            section = String(logical.dropFirst().dropLast())
        } else if let equals = logical.firstIndex(of: "=") {
            entries.append(UnitFileEntry(
                section: section, key: String(logical[..<equals].trimmingWhitespace),
                value: String(logical[logical.index(after: equals)...].trimmingWhitespace)))
        }
    }
    return entries
}

extension StringProtocol {
    var trimmingWhitespace: String {
        let isSpace = { (c: Character) in c == " " || c == "\t" || c == "\r" || c == "\n" }
        let trimmed = drop(while: isSpace)
        return String(trimmed.dropLast(trimmed.reversed().prefix(while: isSpace).count))
    }
}

/// The words of a setting as systemd splits them (extract_first_word with EXTRACT_UNQUOTE and
/// EXTRACT_CUNESCAPE): separated by whitespace, quoted with `"` or `'`, C escapes undone.
public func systemdWords(_ value: String) -> [String] {
    var words: [String] = []
    var word = ""
    var inWord = false
    var quote: Character?
    var characters = value.makeIterator()
    let escapes: [Character: Character] = ["n": "\n", "t": "\t", "r": "\r", "a": "\u{7}", "b": "\u{8}", "f": "\u{c}", "v": "\u{b}", "s": " "]
    while let character = characters.next() {
        if character == "\\" {
            inWord = true
            if let next = characters.next() { word.append(escapes[next] ?? next) }
        } else if let open = quote {
            if character == open { quote = nil } else { word.append(character) }
        } else if character == "\"" || character == "'" {
            quote = character
            inWord = true
        } else if character == " " || character == "\t" {
            if inWord { words.append(word) }
            word = ""
            inWord = false
        } else {
            word.append(character)
            inWord = true
        }
    }
    if inWord { words.append(word) }
    return words
}

/// The LD_PRELOAD a unit's `[Service]` Environment= lines leave, read in systemd's order (unit
/// file first, then its drop-ins): a later assignment replaces an earlier one, an empty
/// Environment= clears them all, `%%` is a literal percent sign.
public func environmentPreload(_ entries: [UnitFileEntry]) -> String? {
    var preload: String?
    for entry in entries where entry.section == "Service" && entry.key == "Environment" {
        if entry.value.isEmpty { preload = nil }
        for word in systemdWords(entry.value) where word.hasPrefix("LD_PRELOAD=") {
            preload = String(word.dropFirst("LD_PRELOAD=".count)).replacingOccurrences(of: "%%", with: "%")
        }
    }
    return preload
}

/// LD_PRELOAD from `systemctl show -p Environment --value UNIT`, which prints the assignments
/// as words.
public func showEnvironmentPreload(_ output: String) -> String? {
    systemdWords(output.trimmingWhitespace).last { $0.hasPrefix("LD_PRELOAD=") }
        .map { String($0.dropFirst("LD_PRELOAD=".count)) }
}

/// The program a `[Service]` runs: the first word of the last ExecStart=, after systemd's
/// prefixes (`@-:+!`); nil when there is none.
public func serviceProgram(_ entries: [UnitFileEntry]) -> String? {
    var program: String?
    for entry in entries where entry.section == "Service" && entry.key == "ExecStart" {
        let first = systemdWords(entry.value).first.map { String($0.drop { "@-:+!".contains($0) }) }
        program = first.flatMap { $0.isEmpty ? nil : $0 }
    }
    return program
}

/// One `BPFProgram=TYPE:PATH` of a unit: a program pinned on bpffs that systemd attaches to the
/// unit's cgroup at each start.
public struct BPFProgramSetting: Equatable, Sendable {
    /// The attach type: `sock_ops`, `setsockopt`, `ingress`...
    public let type: String
    public let path: String
}

/// The `BPFProgram=` settings a service's entries leave, in systemd's order: an empty assignment
/// clears those before it; a value without `TYPE:` is left out, as systemd ignores it.
public func bpfProgramSettings(_ entries: [UnitFileEntry]) -> [BPFProgramSetting] {
    var settings: [BPFProgramSetting] = []
    for entry in entries where entry.section == "Service" && entry.key == "BPFProgram" {
        guard !entry.value.isEmpty else {
            settings = []
            continue
        }
        guard let colon = entry.value.firstIndex(of: ":"), colon != entry.value.startIndex else { continue }
        settings.append(BPFProgramSetting(
            type: String(entry.value[..<colon]), path: String(entry.value[entry.value.index(after: colon)...])))
    }
    return settings
}

/// `Environment=NAME=value` as systemd reads it back: `%` doubled, since specifiers are expanded,
/// and the assignment quoted with C escapes when it holds anything but plain path characters.
public func systemdEnvironmentLine(name: String, value: String) -> String {
    let assignment = "\(name)=\(value)".replacingOccurrences(of: "%", with: "%%")
    let plain = assignment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._:+,=-@%".contains($0)) }
    if plain { return "Environment=\(assignment)" }
    return "Environment=\"\(backslashEscaped(assignment, tabs: true))\""
}


/// The PID in `systemctl show -p MainPID --value UNIT`'s output: 0 when the unit has no main
/// process running, nil when the output is no number.
public func parseMainPID(_ output: String) -> Int32? {
    Int32(output.trimmingWhitespace)
}
