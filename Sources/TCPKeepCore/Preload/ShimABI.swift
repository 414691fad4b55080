/// The ABIs `make shims` builds libtcpkeep.so for: a libc's loader resolves the shim's symbols
/// against its own libc alone, so a program takes the shim of its architecture and C library.
public struct ShimABI: Hashable, Sendable, CustomStringConvertible {
    public enum Architecture: String, CaseIterable, Sendable { case x86_64, aarch64 }
    public enum CLibrary: String, CaseIterable, Sendable { case glibc, musl }

    public let architecture: Architecture
    public let library: CLibrary

    public init(_ architecture: Architecture, _ library: CLibrary) {
        self.architecture = architecture
        self.library = library
    }

    /// The ABI of the programs this tcpkeep runs among: its own.
    #if arch(arm64)
    public static let native = ShimABI(.aarch64, .glibc)
    #else
    public static let native = ShimABI(.x86_64, .glibc)
    #endif

    /// The folder naming it in make shims' output and make dist-shims' tarball.
    public var triplet: String { "\(architecture.rawValue)-linux-\(library == .glibc ? "gnu" : "musl")" }

    /// Where make install puts it under PREFIX: the glibc shim as before, the musl one beside it.
    public var installedPath: String { library == .glibc ? "lib/tcpkeep/libtcpkeep.so" : "lib/tcpkeep/musl/libtcpkeep.so" }

    /// `the x86_64 musl shim (x86_64-linux-musl/libtcpkeep.so)`
    public var shimName: String { "the \(architecture.rawValue) \(library.rawValue) shim (\(triplet)/libtcpkeep.so)" }

    public var description: String { "\(architecture.rawValue) \(library.rawValue)" }
}

/// Why no shim fits a program.
public struct UnfitProgram: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}

/// The shim a dynamically linked program needs, from its ELF header's machine and its
/// PT_INTERP loader: glibc's ld-linux-*, musl's ld-musl-*.
public func programShimABI(_ bytes: [UInt8]) -> Result<ShimABI, UnfitProgram> {
    guard let elf = ELFFile(bytes) else { return .failure(UnfitProgram(description: "it is not an ELF file")) }
    guard let architecture = elf.architecture else {
        return .failure(UnfitProgram(description: "its machine, ELF e_machine \(elf.machine.map(String.init) ?? "unreadable"), is neither x86_64 nor aarch64"))
    }
    guard let loader = elf.interpreter else {
        return .failure(UnfitProgram(description: "it has no ELF interpreter: statically linked, no loader reads LD_PRELOAD"))
    }
    let name = loader.split(separator: "/").last.map(String.init) ?? loader
    if name.hasPrefix("ld-musl-") { return .success(ShimABI(architecture, .musl)) }
    if name.hasPrefix("ld-linux") { return .success(ShimABI(architecture, .glibc)) }
    // Text from the file: quoted, as any other name tcpkeep prints.
    return .failure(UnfitProgram(description: "its loader \(displayQuoted(loader)) is neither glibc's (ld-linux) nor musl's (ld-musl)"))
}

/// The ABI a shared library was built for, from its machine and the libc it needs: glibc's
/// libc.so.6, or musl's libc.so (as musl's tools link it) or libc.musl-ARCH.so.1 (Alpine's).
/// nil when it cannot be told.
public func libraryShimABI(_ bytes: [UInt8]) -> ShimABI? {
    guard let elf = ELFFile(bytes), let architecture = elf.architecture else { return nil }
    let needed = elf.neededLibraries
    if needed.contains("libc.so.6") { return ShimABI(architecture, .glibc) }
    if needed.contains(where: { $0 == "libc.so" || $0.hasPrefix("libc.musl-") }) { return ShimABI(architecture, .musl) }
    return nil
}

/// Why `tcpkeep run` does not preload the shim it found into a program of another ABI, where
/// the loader would fail with a relocation error instead.
public func shimMismatch(program: String, needs abi: ShimABI, problem: String) -> String {
    "\(displayQuoted(program)) is an \(abi) program: it needs \(abi.shimName): \(problem)"
}

/// doctor's note on the shim a program needs, installed at `path`.
public func neededShimNote(_ abi: ShimABI, installedAt path: String) -> String {
    "it needs \(abi.shimName): installed at \(path)"
}

/// A path or name from a file or the command line, quoted so that no control character or
/// quote in it changes the line it is printed in.
func displayQuoted(_ text: String) -> String {
    let escaped = text.unicodeScalars.map { scalar -> String in
        if scalar == "'" || scalar == "\\" { return "\\\(scalar)" }
        if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
            return "\\u{\(String(scalar.value, radix: 16))}"
        }
        return String(scalar)
    }.joined()
    return "'\(escaped)'"
}

extension ELFFile {
    /// e_machine.
    var machine: Int? { integer(at: 18, size: 2) }

    var architecture: ShimABI.Architecture? {
        switch machine {
        case 62: .x86_64  // EM_X86_64
        case 183: .aarch64  // EM_AARCH64
        default: nil
        }
    }

    private static let programLoad = 1, programDynamic = 2, programInterpreterType = 3

    /// The PT_INTERP path.
    var interpreter: String? {
        guard let header = programHeaders.first(where: { $0.type == UInt32(Self.programInterpreterType) }) else { return nil }
        return string(at: header.offset)
    }

    /// DT_NEEDED names: the dynamic segment's entries, their strings in DT_STRTAB, whose
    /// address a PT_LOAD segment maps back to a file offset.
    var neededLibraries: [String] {
        guard let dynamic = programHeaders.first(where: { $0.type == UInt32(Self.programDynamic) }) else { return [] }
        // Offsets come from the file: bounded before any arithmetic on them.
        guard dynamic.offset <= bytes.count else { return [] }
        let entrySize = 2 * word
        var needed: [Int] = []
        var stringTable: Int?
        for index in 0..<min(dynamic.size / entrySize, 4096) {
            let entry = dynamic.offset + index * entrySize
            guard let tag = integer(at: entry, size: word), tag != 0, let value = integer(at: entry + word, size: word) else { break }
            if tag == 1 { needed.append(value) }  // DT_NEEDED
            if tag == 5 { stringTable = value }  // DT_STRTAB
        }
        guard let address = stringTable, let table = fileOffset(ofAddress: address) else { return [] }
        return needed.compactMap { offset in
            let (position, overflow) = table.addingReportingOverflow(offset)
            return overflow ? nil : string(at: position)
        }
    }

    /// The file offset a PT_LOAD segment maps `address` from.
    private func fileOffset(ofAddress address: Int) -> Int? {
        for entry in programHeaderEntries {
            guard integer(at: entry, size: 4) == Self.programLoad,
                let offset = integer(at: entry + (is64 ? 8 : 4), size: word),
                let virtualAddress = integer(at: entry + (is64 ? 16 : 8), size: word),
                let size = integer(at: entry + (is64 ? 32 : 16), size: word),
                address >= virtualAddress, address - virtualAddress < size
            else { continue }
            let (position, overflow) = offset.addingReportingOverflow(address - virtualAddress)
            return overflow ? nil : position
        }
        return nil
    }
}
