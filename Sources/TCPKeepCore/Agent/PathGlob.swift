/// A glob over a slash-separated path: `*` any run of characters within one component, `?` one
/// character, `**` as a whole component any number of components (none included). Everything
/// else matches itself. Used for `cgroup:` selectors (paths below the cgroup v2 mount) and, as
/// one component, for `unit:`, `namespace:` and `pod:` selectors.
public struct PathGlob: Equatable, Sendable, CustomStringConvertible {
    enum Component: Equatable, Sendable {
        case anyDepth
        case pattern([Character])
    }

    let components: [Component]
    public let description: String

    /// Parses a glob; the error says what is wrong with it, for the caller to place.
    public init(_ text: String, allowingSlashes: Bool = true, naming what: String = "a unit name") throws(SettingsError) {
        guard !text.isEmpty else { throw SettingsError("an empty glob matches nothing") }
        guard text.allSatisfy({ !$0.isNewline && $0 != "\0" }) else {
            throw SettingsError("a glob holds no line break or NUL")
        }
        if !allowingSlashes && text.contains("/") {
            throw SettingsError("'\(text)': \(what) holds no '/'")
        }
        guard !text.hasPrefix("/") else {
            throw SettingsError("'\(text)': give the path below the cgroup v2 mount, without a leading '/'")
        }
        var components: [Component] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty { throw SettingsError("'\(text)': an empty path component ('//' or a trailing '/')") }
            if part == "." || part == ".." { throw SettingsError("'\(text)': '.' and '..' are not cgroups") }
            if part == "**" {
                if components.last != .anyDepth { components.append(.anyDepth) }
            } else if part.contains("**") {
                throw SettingsError("'\(text)': '**' stands alone between slashes; use '*' within a name")
            } else if part.contains("[") || part.contains("]") || part.contains("\\") {
                throw SettingsError("'\(text)': '[', ']' and '\\' are not supported in globs (only '*', '?' and '**')")
            } else {
                components.append(.pattern(Array(part)))
            }
        }
        self.components = components
        description = text
    }

    /// Whether the glob matches `path` or one of its ancestors: a selector covers a cgroup and
    /// everything under it.
    public func matchesPathOrAncestor(_ path: [Substring]) -> Bool {
        (0...path.count).contains { matches(path[..<$0]) }
    }

    /// Whether the glob matches exactly these components.
    public func matches(_ path: ArraySlice<Substring>) -> Bool {
        matches(components[...], path)
    }

    private func matches(_ glob: ArraySlice<Component>, _ path: ArraySlice<Substring>) -> Bool {
        guard let first = glob.first else { return path.isEmpty }
        switch first {
        case .anyDepth:
            return (path.startIndex...path.endIndex).contains { matches(glob.dropFirst(), path[$0...]) }
        case .pattern(let pattern):
            guard let name = path.first, wildcardMatches(pattern[...], Array(name)[...]) else { return false }
            return matches(glob.dropFirst(), path.dropFirst())
        }
    }
}

/// `*` and `?` within one name; iterative, with one backtracking point (the last `*`).
func wildcardMatches(_ pattern: ArraySlice<Character>, _ name: ArraySlice<Character>) -> Bool {
    var p = pattern.startIndex, n = name.startIndex
    var star: (pattern: Int, name: Int)? = nil
    while n < name.endIndex {
        if p < pattern.endIndex && (pattern[p] == "?" || pattern[p] == name[n]) {
            p += 1
            n += 1
        } else if p < pattern.endIndex && pattern[p] == "*" {
            star = (p, n)
            p += 1
        } else if let last = star {
            p = last.pattern + 1
            n = last.name + 1
            star = (last.pattern, last.name + 1)
        } else {
            return false
        }
    }
    while p < pattern.endIndex && pattern[p] == "*" { p += 1 }
    return p == pattern.endIndex
}
