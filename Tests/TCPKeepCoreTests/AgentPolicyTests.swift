import TCPKeepCore
import Testing

/// The agent's policy file: the schema as doc/agent.md gives it, refusals placed at line and
/// column, and which rule a cgroup falls under.
@Suite("Agent policy")
struct AgentPolicyTests {
    static let example = """
        listen: 127.0.0.1:24245
        rules:
          - match: {cgroup: "batch.slice/*"}
            profile: internet
          - match: {unit: "redis-*.service"}
            idle: 30s
            interval: 5s
            count: 3
            enforce: true
          - match: {annotation: "tcpkeep.io/profile=datacenter"}
            profile: datacenter
        default: {detect-within: 5m}
        """

    @Test("the issue's example parses: listen, three rules in order, the default")
    func example() throws {
        let policy = try parsePolicy(Self.example)
        #expect(policy.listen == ListenAddress(host: "127.0.0.1", port: 24245))
        #expect(policy.rules.count == 3)
        #expect(policy.rules[0].settings == KeepaliveProfile.internet.settings)
        #expect(policy.rules[1].settings == KeepaliveSettings(idle: 30, interval: 5, count: 3, userTimeout: nil, enforce: true))
        #expect(policy.rules[2].selector == .annotation(key: "tcpkeep.io/profile", value: "datacenter"))
        #expect(policy.fallback?.userTimeout == 300_000)
    }

    @Test("first match wins; a selector covers its cgroup and everything under it; no rule and no default: nothing")
    func matching() throws {
        let policy = try parsePolicy(Self.example)
        #expect(policy.entry(for: Workload(path: "batch.slice/job1")) == .rule(0))
        #expect(policy.entry(for: Workload(path: "batch.slice/job1/sub/deeper")) == .rule(0))
        #expect(policy.entry(for: Workload(path: "batch.slice")) == .fallback)
        #expect(policy.entry(for: Workload(path: "system.slice/redis-a.service")) == .rule(1))
        #expect(policy.entry(for: Workload(path: "batch.slice/redis-a.service")) == .rule(0))
        let annotated = ContainerState(id: String(repeating: "a", count: 64), annotations: ["tcpkeep.io/profile": "datacenter"])
        #expect(policy.entry(for: Workload(path: "libpod_parent/libpod-\(annotated.id)", container: annotated)) == .rule(2))
        let other = ContainerState(id: annotated.id, annotations: ["tcpkeep.io/profile": "lan"])
        #expect(policy.entry(for: Workload(path: "x", container: other)) == .fallback)
        let noDefault = try parsePolicy("rules:\n  - match: {container: web}\n    profile: lan\n")
        #expect(noDefault.entry(for: Workload(path: "x")) == nil)
        #expect(noDefault.entry(for: Workload(path: "x", container: ContainerState(id: "0123", names: ["web-1"]))) == .rule(0))
        #expect(noDefault.entry(for: Workload(path: "x", container: ContainerState(id: "webfeed")))  == .rule(0))
    }

    @Test("a rule's name labels it, else its position; listen takes IPv4 and bracketed IPv6 literals; enforces says whether any entry does")
    func labelsAndListen() throws {
        let policy = try parsePolicy("listen: \"[::1]:9\"\nrules:\n  - name: redis\n    match: {unit: \"redis*\"}\n  - match: {cgroup: a}\n    enforce: true\n")
        #expect(policy.entries.map(policy.label(of:)) == ["redis", "rule 2"])
        #expect(policy.listen == ListenAddress(host: "::1", port: 9))
        #expect(policy.listen?.description == "[::1]:9" && policy.listen?.isLoopback == true)
        #expect(policy.enforces)
        #expect(try !parsePolicy("rules: []\ndefault: {profile: lan}\n").enforces)
        #expect(throws: SettingsError.self) { try ListenAddress(parsing: "[zz]:1") }
        #expect(throws: SettingsError.self) { try ListenAddress(parsing: "1.2.3.256:1") }
    }

    @Test("globs: * within one level, ** across levels (none included), ? one character")
    func globs() throws {
        func matches(_ glob: String, _ path: String) throws -> Bool {
            try PathGlob(glob).matchesPathOrAncestor(path.split(separator: "/"))
        }
        #expect(try matches("a/*", "a/b"))
        #expect(try matches("a/*", "a/b/c"))
        #expect(try !matches("a/*", "a"))
        #expect(try !matches("a/*/c", "a/b/x/c"))
        #expect(try matches("a/**/c", "a/c"))
        #expect(try matches("a/**/c", "a/b/x/c/d"))
        #expect(try matches("**/job-?", "x/y/job-1"))
        #expect(try !matches("**/job-?", "x/y/job-10"))
        #expect(try matches("*.slice/*-web*", "user.slice/a-web-1"))
        #expect(try !matches("b*", "ab"))
    }

    @Test("refusals name the line and column of the mistake", arguments: [
        ("rules: []\nbogus: 1\n", 2, 1, "unknown key 'bogus'"),
        ("rules:\n  - match: {cgroup: \"a/**b\"}\n    profile: lan\n", 2, 21, "'**' stands alone"),
        ("rules:\n  - match: {cgroup: \"/abs\"}\n", 2, 21, "without a leading '/'"),
        ("rules:\n  - match: {unit: \"a/b.service\"}\n", 2, 19, "holds no '/'"),
        ("rules:\n  - match: {cgroup: a, unit: b}\n", 2, 12, "exactly one"),
        ("rules:\n  - match: {cgroup: a}\n    idle: 5 minutes\n", 3, 11, "not a duration"),
        ("rules:\n  - match: {cgroup: a}\n    count: 500\n", 3, 12, "out of range"),
        ("rules:\n  - match: {cgroup: a}\n    profile: lan\n    detect-within: 5m\n", 2, 5, "give one of them"),
        ("rules:\n  - match: {cgroup: a}\n    enforce: yes\n", 3, 14, "true or false"),
        ("rules:\n  - profile: lan\n", 2, 5, "needs `match:`"),
        ("listen: localhost:80\nrules: []\n", 1, 9, "not an IPv4 address"),
        ("listen: 127.0.0.1:70000\nrules: []\n", 1, 9, "to 65535"),
        ("default: {profile: lan}\n", 1, 1, "`rules:` is missing"),
        ("rules: [\n", 2, 1, "not valid YAML"),
        ("rules:\n  - match: {cgroup: a}\n    \"x\\u001b[31m\": 1\n", 3, 5, "'x\\u{1B}[31m'"),
    ])
    func refusals(text: String, line: Int, column: Int, message: String) {
        #expect {
            try parsePolicy(text)
        } throws: { error in
            guard let error = error as? PolicyError else { return false }
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.description.contains(message), "\(error)")
            #expect(!error.description.contains("\u{1b}"))
            return true
        }
    }

    @Test("an OCI spec's annotations, and a container's names from containers/storage's list")
    func runtimeState() {
        let spec = #"{"ociVersion":"1.0.2","process":{"args":["/probe"]},"annotations":{"tcpkeep.io/profile":"datacenter","io.kubernetes.container.name":"web","n":"1"}}"#
        let annotations = ociAnnotations(configJSON: spec)
        #expect(annotations["tcpkeep.io/profile"] == "datacenter")
        #expect(annotations["n"] == "1")
        #expect(containerNames(annotations: annotations) == ["web"])
        #expect(ociAnnotations(configJSON: "{not json") == [:])
        let list = #"[{"id":"abc","names":["first"]},{"id":"def","names":["second","alias"]}]"#
        #expect(containerNames(storageList: list, containerID: "def") == ["second", "alias"])
        #expect(containerID(ofCgroupPath: "libpod_parent/libpod-\(String(repeating: "f", count: 64))") == String(repeating: "f", count: 64))
    }
}
