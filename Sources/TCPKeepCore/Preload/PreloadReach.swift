/// Why LD_PRELOAD would not reach a program's sockets, judged from the file alone.
public enum PreloadObstacle: Equatable, Sendable {
    case staticallyLinked, goProgram, setuid, setgid, fileCapabilities
    /// The shim for the program's C library and architecture is not installed with this tcpkeep.
    case shimNotInstalled(ShimABI)
    /// No shim fits the program (another architecture or C library); why.
    case noShimFits(String)

    /// A stable name for JSON: `statically-linked`, `go-program`, `setuid`, `setgid`,
    /// `file-capabilities`, `shim-not-installed`, `no-shim-fits`.
    public var name: String {
        switch self {
        case .staticallyLinked: "statically-linked"
        case .goProgram: "go-program"
        case .setuid: "setuid"
        case .setgid: "setgid"
        case .fileCapabilities: "file-capabilities"
        case .shimNotInstalled: "shim-not-installed"
        case .noShimFits: "no-shim-fits"
        }
    }

    /// Why the preload does not reach it.
    public var reason: String {
        switch self {
        case .staticallyLinked:
            "it is statically linked (no ELF interpreter), so ld.so never runs and LD_PRELOAD is ignored"
        case .goProgram:
            "it is a Go program, which makes the socket system call itself"
        case .setuid:
            "it is set-user-ID, so ld.so runs it in secure-execution mode and drops a preload path with a slash when a user other than its owner runs it"
        case .setgid:
            "it is set-group-ID, so ld.so runs it in secure-execution mode and drops a preload path with a slash when a user outside its group runs it"
        case .fileCapabilities:
            "it has file capabilities (security.capability), so ld.so runs it in secure-execution mode for a non-root user and drops a preload path with a slash"
        case .shimNotInstalled(let abi):
            "it needs \(abi.shimName), which is not installed with this tcpkeep, and the loader refuses to start it with another"
        case .noShimFits(let why):
            "no tcpkeep shim fits it: \(why)"
        }
    }

    /// What to do instead.
    public var advice: String {
        let others = "tcpkeep fix --pid PID turns keepalive on for the connections a running process has open; sockets systemd passes in take the .socket unit's KeepAlive="
        return switch self {
        case .staticallyLinked:
            "use the program's own keepalive setting, tcpkeep's kernel mode, or build it dynamically; \(others)"
        case .goProgram:
            "set net.Dialer/ListenConfig KeepAlive (or KeepAliveConfig) in the program (Go's default is 15s); \(others)"
        case .setuid:
            "run it as its owner or remove the bit; \(others)"
        case .setgid:
            "run it in that group or remove the bit; \(others)"
        case .fileCapabilities:
            "give the unit AmbientCapabilities= and remove the file capabilities (setcap -r); \(others)"
        case .shimNotInstalled:
            "install it (make dist-shims builds all four; doc/images.md shows how to put one in an image), or use tcpkeep's kernel mode; \(others)"
        case .noShimFits:
            "use the program's own keepalive setting or tcpkeep's kernel mode; \(others)"
        }
    }

    /// Why, and what to do instead.
    public var explanation: String { "\(reason); \(advice)" }
}

/// What keeps LD_PRELOAD from a program: `bytes` is the file's content (an ELF file is judged
/// by its program and section headers; anything else, a script say, by its mode alone), `mode`
/// its st_mode, `hasFileCapabilities` whether it carries a security.capability attribute.
public func preloadObstacles(executable bytes: [UInt8], mode: UInt32, hasFileCapabilities: Bool) -> [PreloadObstacle] {
    var obstacles: [PreloadObstacle] = []
    if let elf = ELFFile(bytes) {
        if !elf.hasInterpreter { obstacles.append(.staticallyLinked) }
        if elf.isGoProgram { obstacles.append(.goProgram) }
    }
    if mode & 0o4000 != 0 { obstacles.append(.setuid) }
    // Set-group-ID without group execute marks mandatory locking, not a privilege.
    if mode & 0o2010 == 0o2010 { obstacles.append(.setgid) }
    if hasFileCapabilities { obstacles.append(.fileCapabilities) }
    return obstacles
}

/// What executing a file runs, as the kernel decides from its first bytes.
public enum ProgramFile: Equatable, Sendable {
    /// An ELF executable: itself.
    case elf
    /// A script: its `#!` interpreter, with the one argument the line may give.
    case script(interpreter: String, argument: String?)
    /// Neither: the kernel refuses to execute it.
    case other
}

/// Reads a file's first bytes the way the kernel does (binfmt_elf, binfmt_script): an ELF
/// header, or `#!`, the interpreter's path and the rest of the line as one argument, within
/// the kernel's 256-byte buffer.
public func programFile(_ bytes: [UInt8]) -> ProgramFile {
    if ELFFile(bytes) != nil { return .elf }
    guard bytes.starts(with: Array("#!".utf8)) else { return .other }
    let line = bytes.dropFirst(2).prefix(254).prefix { $0 != UInt8(ascii: "\n") }
    let text = String(decoding: line, as: UTF8.self).trimmingWhitespace
    guard let end = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
        return text.isEmpty ? .other : .script(interpreter: text, argument: nil)
    }
    let argument = text[end...].trimmingWhitespace
    return .script(interpreter: String(text[..<end]), argument: argument.isEmpty ? nil : argument)
}

/// The few facts of an ELF file that decide whether a preload reaches it, read defensively:
/// a truncated or inconsistent header counts as absent.
struct ELFFile {
    let bytes: [UInt8]
    let is64: Bool
    private let bigEndian: Bool

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 52, bytes[0..<4] == [0x7f, 0x45, 0x4c, 0x46], [1, 2].contains(bytes[4]), [1, 2].contains(bytes[5])
        else { return nil }
        self.bytes = bytes
        is64 = bytes[4] == 2
        bigEndian = bytes[5] == 2
        guard !is64 || bytes.count >= 64 else { return nil }
    }

    private static let programInterpreter: UInt32 = 3, programNote: UInt32 = 4
    /// NT_GO_BUILDID, with the note name "Go".
    private static let goBuildIDNote: UInt32 = 4

    var hasInterpreter: Bool { programHeaders.contains { $0.type == Self.programInterpreter } }

    /// The Go toolchain writes a `.go.buildinfo` section and a "Go" build-ID note; the note
    /// survives stripping the section headers.
    var isGoProgram: Bool {
        if sectionNames.contains(".go.buildinfo") || sectionNames.contains(".note.go.buildid") { return true }
        return programHeaders.filter { $0.type == Self.programNote }.contains { header in
            notes(offset: header.offset, size: header.size).contains { $0.name == "Go" && $0.type == Self.goBuildIDNote }
        }
    }

    func integer(at offset: Int, size: Int) -> Int? {
        guard offset >= 0, size <= 8, offset <= bytes.count - size else { return nil }
        var value: UInt64 = 0
        for index in 0..<size {
            let byte = UInt64(bytes[offset + (bigEndian ? index : size - 1 - index)])
            value = value << 8 | byte
        }
        return value > UInt64(Int.max) ? nil : Int(value)
    }

    var word: Int { is64 ? 8 : 4 }

    /// The file offset of each entry of a header table, or none when the table does not fit the file.
    private func table(offsetAt: Int, countAt: Int, entrySizeAt: Int) -> [Int] {
        guard let start = integer(at: offsetAt, size: word), let count = integer(at: countAt, size: 2),
            let entrySize = integer(at: entrySizeAt, size: 2), entrySize > 0, start > 0,
            start <= bytes.count, count <= (bytes.count - start) / entrySize
        else { return [] }
        return (0..<count).map { start + $0 * entrySize }
    }

    /// The file offset of each program header.
    var programHeaderEntries: [Int] { table(offsetAt: is64 ? 32 : 28, countAt: is64 ? 56 : 44, entrySizeAt: is64 ? 54 : 42) }

    var programHeaders: [(type: UInt32, offset: Int, size: Int)] {
        programHeaderEntries.compactMap { entry in
            guard let type = integer(at: entry, size: 4),
                let offset = integer(at: entry + (is64 ? 8 : 4), size: word),
                let size = integer(at: entry + (is64 ? 32 : 16), size: word)
            else { return nil }
            return (UInt32(type), offset, size)
        }
    }

    private var sectionNames: Set<String> {
        let sections = table(offsetAt: is64 ? 40 : 32, countAt: is64 ? 60 : 48, entrySizeAt: is64 ? 58 : 46)
        guard let nameIndex = integer(at: is64 ? 62 : 50, size: 2), nameIndex < sections.count,
            let names = integer(at: sections[nameIndex] + (is64 ? 24 : 16), size: word)
        else { return [] }
        return Set(sections.compactMap { entry in
            // Offsets come from the file: a crafted one must not overflow.
            integer(at: entry, size: 4).flatMap { nameOffset in
                let (offset, overflow) = names.addingReportingOverflow(nameOffset)
                return overflow ? nil : string(at: offset)
            }
        })
    }

    func string(at offset: Int) -> String? {
        guard offset >= 0, offset < bytes.count, let end = bytes[offset...].firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    private func notes(offset: Int, size: Int) -> [(name: String, type: UInt32)] {
        var found: [(name: String, type: UInt32)] = []
        guard offset >= 0, offset <= bytes.count else { return [] }
        var position = offset
        let end = size > bytes.count - offset ? bytes.count : offset + size
        let aligned = { (length: Int) in (length + 3) & ~3 }
        while position + 12 <= end, let nameSize = integer(at: position, size: 4),
            let descriptionSize = integer(at: position + 4, size: 4), let type = integer(at: position + 8, size: 4)
        {
            let nameStart = position + 12
            guard nameSize <= end - nameStart else { break }
            let name = String(decoding: bytes[nameStart..<nameStart + nameSize].prefix { $0 != 0 }, as: UTF8.self)
            found.append((name, UInt32(type)))
            position = nameStart + aligned(nameSize) + aligned(descriptionSize)
        }
        return found
    }
}
