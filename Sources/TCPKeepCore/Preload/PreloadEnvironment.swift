/// LD_PRELOAD with `library` first and the entries already there after it, never replacing them.
/// ld.so splits the list on spaces and colons; an earlier copy of `library` is dropped so that
/// nesting `tcpkeep run` does not load it twice.
public func preloadList(putting library: String, before existing: String?) -> String {
    let others = (existing ?? "")
        .split(whereSeparator: { $0 == " " || $0 == ":" })
        .map(String.init)
        .filter { $0 != library }
    return ([library] + others).joined(separator: ":")
}

/// Why a path cannot go into LD_PRELOAD, or nil when it can. ld.so searches a name without a
/// slash like a needed library, and it splits on spaces and colons.
public func preloadPathProblem(_ path: String) -> String? {
    if !path.hasPrefix("/") { return "'\(path)' is not an absolute path" }
    if path.contains(where: { $0 == " " || $0 == ":" }) {
        return "'\(path)' contains a space or a colon, which LD_PRELOAD cannot carry"
    }
    return nil
}

/// The variables `tcpkeep run` and `tcpkeep env` set: LD_PRELOAD first, then the settings.
public func launchEnvironment(
    settings: KeepaliveSettings, library: String, existingPreload: String?
) -> [(name: String, value: String)] {
    [("LD_PRELOAD", preloadList(putting: library, before: existingPreload))] + settings.environment
}

/// The resource bundle SwiftPM builds the shim into, beside the `tcpkeep` executable: named
/// after the package and the target the BuildShim plugin is applied to.
public let shimBundleDirectory = "tcpkeep_TCPKeepSystem.resources"

/// Where the shim for `abi` may be, most specific first: beside an installed `bin/tcpkeep` in
/// `lib/tcpkeep/` (the musl one in `lib/tcpkeep/musl/`, the host's architecture only), then in
/// the build tree: the glibc one in the resource bundle next to the executable, the others
/// where make shims puts them (`.build/shims/TRIPLET/`, reached through the bundle, so that
/// outside a build tree the path does not resolve).
public func shimCandidates(executableDirectory: String, for abi: ShimABI = .native) -> [String] {
    let directory = executableDirectory.hasSuffix("/") ? String(executableDirectory.dropLast()) : executableDirectory
    let parent = directory.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    let bundle = "\(directory)/\(shimBundleDirectory)"
    if abi == .native { return ["\(parent)/\(abi.installedPath)", "\(bundle)/libtcpkeep.so"] }
    let built = "\(bundle)/../../../shims/\(abi.triplet)/libtcpkeep.so"
    return abi.architecture == ShimABI.native.architecture ? ["\(parent)/\(abi.installedPath)", built] : [built]
}

/// Why `path` is no installed shim's path (`PREFIX/lib/tcpkeep/libtcpkeep.so` outside a
/// temporary directory), or nil when it is one.
public func uninstalledShimProblem(_ path: String) -> String? {
    if path.contains("/\(shimBundleDirectory)/") { return "the copy in a build tree" }
    for temporary in ["/tmp/", "/var/tmp/"] where path.hasPrefix(temporary) {
        return "a path under \(temporary), which a service with PrivateTmp= (as Debian's redis-server.service) cannot see"
    }
    guard path.hasSuffix("/lib/tcpkeep/libtcpkeep.so") else { return "not where make install puts the shim" }
    return nil
}

/// `'value'` for a POSIX shell, with embedded single quotes written as `'\''`.
public func shellQuoted(_ value: String) -> String {
    "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
}

/// `export NAME='value'` lines a POSIX shell can eval.
public func exportLines(_ variables: [(name: String, value: String)]) -> String {
    variables.map { "export \($0.name)=\(shellQuoted($0.value))\n" }.joined()
}
