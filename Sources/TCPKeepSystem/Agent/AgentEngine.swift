import CLinux
import Logging
import NIOConcurrencyHelpers
import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// The kernel side the agent keeps in step with the cgroups: the settings of each covered
/// cgroup, by cgroup id, which the attached program reads (the nearest entry among a socket's
/// cgroup and its ancestors).
public protocol CgroupSettingsMap: AnyObject, Sendable {
    /// The cgroup ids the map holds now.
    func ids() throws -> Set<UInt64>
    /// Sets a cgroup's settings; `entry` numbers the policy entry, for the per-entry counters.
    func set(_ id: UInt64, _ settings: KeepaliveSettings, entry: UInt32) throws
    func remove(_ id: UInt64) throws
    /// Attaches the setsockopt program, which enforces, or detaches it.
    func setEnforcing(_ enforcing: Bool) throws
    /// What the programs counted for the first `entries` policy entries, by entry number.
    func counters(entries: Int) -> [KernelCounters]
}

/// Why the agent stopped before it ran: exit status 2.
public struct AgentError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public struct AgentConfiguration: Sendable {
    public var policyPath: String
    /// --listen: overrides the policy's `listen`.
    public var listen: ListenAddress?

    public init(policyPath: String, listen: ListenAddress? = nil) {
        self.policyPath = policyPath
        self.listen = listen
    }
}

/// The agent's run: the policy applied to every cgroup there is, then kept applied as cgroups
/// come and go and as the policy file changes, until SIGTERM or SIGINT.
public final class AgentEngine {
    private let configuration: AgentConfiguration
    private let logger: Logger
    private var map: CgroupSettingsMap!
    private let runtimes = ContainerRuntimes()
    private var policy: AgentPolicy
    /// The file's text as last read, accepted or not: a change event with the same text is no change.
    private var lastText: String
    private var tracked: [UInt64: (path: String, entry: PolicyEntry?)] = [:]
    private var containers: [String: ContainerState] = [:]
    /// The names /metrics gives the containers the agent has seen, by runtime id.
    private let containerLabels = NIOLockedValueBox<[String: ContainerLabels]>([:])
    private let health = NIOLockedValueBox(AgentHealth())
    private let ready = NIOLockedValueBox(false)

    /// Reads and checks the policy: a refusal is an `AgentError` naming the file, line and column.
    public init(configuration: AgentConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        lastText = try readPolicyFile(configuration.policyPath)
        policy = try agentPolicy(fromText: lastText, path: configuration.policyPath)
    }

    /// The cgroup the policy names as its root, below the mount.
    public var root: String { policy.root }

    /// Whether the policy has an entry that enforces.
    public var enforces: Bool { policy.enforces }

    /// Runs until SIGTERM or SIGINT, keeping `map` in step; returns the exit status.
    public func run(mount: String, map: CgroupSettingsMap) throws -> Int32 {
        self.map = map
        // Blocked before any thread starts, so that every thread inherits the mask and the
        // signals arrive only through the descriptor.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let signalDescriptor = try checked(signalfd(-1, &signals, Int32(SFD_CLOEXEC | SFD_NONBLOCK)), "cannot make a signalfd")
        defer { close(signalDescriptor) }

        let watcher = try CgroupTreeWatcher(mount: mount, top: policy.root)
        let policyWatch = try PolicyFileWatch(path: configuration.policyPath)
        apply(try watcher.scan(), announce: false)
        try reconcile()
        let listen = configuration.listen ?? policy.listen ?? .standard
        let server = try MetricsServer(listen: listen, source: AgentMetricsSource(health: health, ready: ready, map: map, containers: containerLabels, logger: logger))
        defer { server.stop() }
        if !listen.isLoopback {
            logger.notice("the metrics endpoint listens beyond this host", metadata: ["listen": "\(listen)"])
        }
        ready.withLockedValue { $0 = true }
        logger.info("policy applied", metadata: summary().merging(["listen": "\(server.address)"]) { $1 })
        try ServiceNotification().send("READY=1\nSTATUS=policy applied, \(tracked.count) cgroups watched")

        var descriptors = [
            pollfd(fd: signalDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: watcher.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: policyWatch.descriptor, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            guard poll(&descriptors, nfds_t(descriptors.count), -1) >= 0 else {
                if errno == EINTR { continue }
                let code = errno
                throw SystemError("poll", code: code)
            }
            if descriptors[0].revents != 0 {
                var info = signalfd_siginfo()
                while read(signalDescriptor, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
                    if info.ssi_signo == UInt32(SIGHUP) {
                        reload(because: "SIGHUP", force: true)
                    } else {
                        logger.info("stopping", metadata: ["signal": "\(info.ssi_signo == UInt32(SIGTERM) ? "SIGTERM" : "SIGINT")"])
                        _ = try? ServiceNotification().send("STOPPING=1")
                        return 0
                    }
                }
            }
            if descriptors[1].revents != 0 {
                let changes = try watcher.changes()
                if changes.contains(.overflowed) {
                    logger.warning("the cgroup tree's event queue overflowed; reading the tree again")
                    apply(try watcher.scan(), announce: true)
                    try reconcile()
                } else {
                    apply(changes, announce: true)
                }
            }
            if descriptors[2].revents != 0, policyWatch.drain() {
                reload(because: "the file changed", force: false)
                policyWatch.rewatch()
            }
        }
    }

    /// Tracks each change and writes its map entry at once; `announce` logs each cgroup
    /// matched (not the first scan's, which the summary line counts).
    private func apply(_ changes: [CgroupChange], announce: Bool) {
        for change in changes {
            switch change {
            case .appeared(let path, let id):
                let workload = workload(path)
                let entry = policy.entry(for: workload)
                tracked[id] = (path, entry)
                write(id, entry)
                if announce, let entry {
                    logger.info("cgroup matched", metadata: ["cgroup": "\(path)", "entry": "\(policy.label(of: entry))"])
                }
                // A rule that needs a fact the node lacks (a pod's namespace, an annotation
                // containerd did not pass) does not match; the line says why.
                for why in policy.missingFacts(for: workload) {
                    logger.notice("rule not matched: the node lacks a fact", metadata: ["cgroup": "\(path)", "why": "\(why)"])
                }
            case .vanished(let path, let id):
                if tracked.removeValue(forKey: id)?.entry != nil { remove(id) }
                forgetContainer(ofVanished: path)
            case .overflowed:
                break
            }
        }
        publishCounts()
    }

    /// A container's state is kept while its cgroup lives: the top cgroup that names it going
    /// (its parent names none, or another) drops it.
    private func forgetContainer(ofVanished path: String) {
        guard let id = containerID(ofCgroupPath: path) else { return }
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        if containerID(ofCgroupPath: parent) != id {
            containers[id] = nil
            _ = containerLabels.withLockedValue { $0.removeValue(forKey: id) }
        }
    }

    private func workload(_ path: String) -> Workload {
        guard let id = containerID(ofCgroupPath: path) else { return Workload(path: path) }
        let state = containers[id] ?? runtimes.state(ofContainer: id)
        containers[id] = state
        let workload = Workload(path: path, container: state)
        containerLabels.withLockedValue { $0[id] = ContainerLabels(workload) }
        return workload
    }

    private func write(_ id: UInt64, _ entry: PolicyEntry?) {
        guard let entry, let settings = policy.settings(of: entry) else { return remove(id) }
        do {
            try map.set(id, settings, entry: entryNumber(entry))
        } catch {
            logger.error("cannot write a cgroup's settings into the kernel map", metadata: ["cgroup": "\(tracked[id]?.path ?? "")", "error": "\(error)"])
        }
    }

    private func remove(_ id: UInt64) {
        do {
            try map.remove(id)
        } catch {
            logger.error("cannot remove a cgroup's entry from the kernel map", metadata: ["error": "\(error)"])
        }
    }

    private func entryNumber(_ entry: PolicyEntry) -> UInt32 {
        switch entry {
        case .rule(let index): UInt32(index)
        case .fallback: UInt32(policy.rules.count)
        }
    }

    /// Makes the map hold exactly the covered cgroups that exist: entries of cgroups gone while
    /// no agent watched (or left by an earlier policy) go, every covered cgroup's is written; the
    /// setsockopt program is attached while an entry enforces.
    private func reconcile() throws {
        try map.setEnforcing(policy.enforces)
        let present = try map.ids()
        for id in present where tracked[id]?.entry == nil { remove(id) }
        for (id, cgroup) in tracked where cgroup.entry != nil { write(id, cgroup.entry) }
        publishCounts()
    }

    private func reload(because reason: String, force: Bool) {
        let text: String
        do {
            text = try readPolicyFile(configuration.policyPath)
        } catch {
            return refuse("\(error)", reason: reason)
        }
        guard force || text != lastText else { return }
        lastText = text
        let next: AgentPolicy
        do {
            next = try agentPolicy(fromText: text, path: configuration.policyPath)
        } catch {
            return refuse("\(error)", reason: reason)
        }
        guard next.root == policy.root else {
            return refuse("\(configuration.policyPath): `root:` changed from '\(loggable(policy.root))' to '\(loggable(next.root))'; a new root takes a restart of the agent", reason: reason)
        }
        if next.listen != policy.listen && configuration.listen == nil {
            logger.notice("`listen:` changed; the endpoint moves at the next start of the agent", metadata: ["listen": "\(next.listen ?? .standard)"])
        }
        policy = next
        for (id, cgroup) in tracked {
            tracked[id]!.entry = policy.entry(for: workload(cgroup.path))
        }
        health.withLockedValue {
            $0.reloads += 1
            $0.policyValid = true
        }
        do {
            try reconcile()
        } catch {
            logger.error("cannot bring the kernel's map and programs in step with the policy", metadata: ["error": "\(error)"])
        }
        logger.info("policy reloaded", metadata: summary().merging(["reason": "\(reason)"]) { $1 })
    }

    private func refuse(_ why: String, reason: String) {
        health.withLockedValue {
            $0.reloads += 1
            $0.reloadFailures += 1
            $0.policyValid = false
        }
        logger.error("policy refused; the previous one stays in force", metadata: ["reason": "\(reason)", "error": "\(why)"])
    }

    private func publishCounts() {
        var counts: [PolicyEntry: Int] = [:]
        for cgroup in tracked.values { if let entry = cgroup.entry { counts[entry, default: 0] += 1 } }
        let byEntry = policy.entries.map { (policy.label(of: $0), counts[$0] ?? 0) }
        let mapEntries = tracked.values.filter { $0.entry != nil }.count
        let cgroups = tracked.count
        health.withLockedValue {
            $0.cgroupsTracked = cgroups
            $0.cgroupsByEntry = byEntry
            $0.mapEntries = mapEntries
        }
    }

    private func summary() -> Logger.Metadata {
        let covered = tracked.values.filter { $0.entry != nil }.count
        return ["rules": "\(policy.rules.count)", "default": "\(policy.fallback == nil ? "none" : "set")", "cgroups": "\(tracked.count)", "covered": "\(covered)"]
    }
}

/// The endpoint's view of the agent: its health, with the previous scrape's duration, and the
/// families other parts add.
private struct AgentMetricsSource: MetricsSource {
    let health: NIOLockedValueBox<AgentHealth>
    let ready: NIOLockedValueBox<Bool>
    let map: CgroupSettingsMap
    let containers: NIOLockedValueBox<[String: ContainerLabels]>
    let logger: Logger
    /// The previous scrape's audit error: a failure is logged when it starts and when it ends,
    /// not at every scrape.
    let auditError = NIOLockedValueBox<String?>(nil)

    var isReady: Bool { ready.withLockedValue { $0 } }

    func renderMetrics() -> String {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let audit = auditMetrics(containers: containers.withLockedValue { $0 })
        let previous = auditError.withLockedValue { last in
            defer { last = audit.error }
            return last
        }
        if previous != audit.error {
            if let error = audit.error {
                logger.error("the audit for /metrics failed; its families are left out", metadata: ["error": "\(error)"])
            } else {
                logger.info("the audit for /metrics runs again")
            }
        }
        let now = health.withLockedValue { $0 }
        let labels = now.cgroupsByEntry.map(\.label)
        let text = formatAgentMetrics(now, auditSucceeded: audit.error == nil)
            + formatAgentEntryCountersPrometheus(Array(zip(labels, map.counters(entries: labels.count))))
            + audit.text
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        health.withLockedValue { $0.lastScrapeSeconds = seconds }
        return text
    }
}

/// Watches the policy file's folder, and the folder of the file a symlink leads to, for any
/// change: an editor's rename, a ConfigMap's swap of its `..data` symlink.
private final class PolicyFileWatch {
    let descriptor: Int32
    private let path: String
    private var watches: [Int32] = []

    init(path: String) throws(SystemError) {
        self.path = path
        descriptor = try checked(inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)), "cannot start inotify")
        rewatch()
    }

    deinit { close(descriptor) }

    /// Watches the folders again: the symlink may lead elsewhere now.
    func rewatch() {
        for watch in watches { inotify_rm_watch(descriptor, watch) }
        var folders = [Files.parent(of: Files.absolutePath(path))]
        if let resolved = realpath(path, nil) {
            folders.append(Files.parent(of: String(cString: resolved)))
            free(resolved)
        }
        let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM) | UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_ATTRIB)
        watches = Set(folders).map { inotify_add_watch(descriptor, $0, mask) }.filter { $0 >= 0 }
    }

    /// Reads every queued event; true when there was one.
    func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var any = false
        while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 { any = true }
        return any
    }
}
