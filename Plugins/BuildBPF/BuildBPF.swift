import Foundation
import PackagePlugin

/// Compiles the BPF programs, `bpf/tcpkeep.bpf.c` (kernel mode) and `bpf/socket_holders.bpf.c`
/// (the audit's socket holders iterator), for `-target bpf` with the toolchain's clang, and turns
/// the objects into a C source, `tcpkeep_bpf_object.c`, that defines `tcpkeep_bpf_object[]`,
/// `tcpkeep_socket_holders_object[]` and their sizes (by preprocessing `bpf/embed.c.in`, whose
/// C23 `#embed` pulls the objects' bytes in). Applied to the C target `CTCPKeepBPF`, whose
/// loaders hand those bytes to libbpf's `bpf_object__open_mem`, so the objects live inside the
/// executable and nothing generated is committed.
///
/// SwiftPM compiles a C source a plugin generates only when the manifest opts in with
/// `// swift-tools-version: 6.3;(experimentalCGen)`; without it SwiftPM warns
/// "C source file generation not enabled" and leaves the file out, and the link fails.
@main
struct BuildBPF: BuildToolPlugin {
    /// Each program's source is bpf/NAME.bpf.c; the headers they include are bpf/*.h.
    static let programs = ["tcpkeep", "socket_holders"]
    static let headers = ["tcpkeep_map.h", "socket_holders.h"]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpf = context.package.directoryURL.appending(path: "bpf")
        let template = bpf.appending(path: "embed.c.in")
        // The objects are intermediate files, not outputs: every output of a build command
        // that is no source becomes a resource of the target, and would be installed beside
        // the executable as tcpkeep_CTCPKeepBPF.resources/. So one shell command makes all.
        let objectDirectory = context.pluginWorkDirectoryURL.appending(path: "object")
        let generated = context.pluginWorkDirectoryURL.appending(path: "tcpkeep_bpf_object.c")
        let clang = try context.tool(named: "clang").url

        let compiles = Self.programs.map { name in
            [
                clang.path, "-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
                // <linux/types.h> includes <asm/types.h>, which lives in the multiarch directory
                // that clang does not search for -target bpf.
                "-idirafter", "/usr/include/\(Self.multiarch)",
                "-c", bpf.appending(path: "\(name).bpf.c").path, "-o", objectDirectory.appending(path: "\(name).bpf.o").path,
            ]
        }
        let embed = [
            clang.path, "-E", "-P", "-std=c23", "-x", "c", "--embed-dir=\(objectDirectory.path)",
            template.path, "-o", generated.path,
        ]
        let script = (["mkdir -p \(Self.quoted(objectDirectory.path))"] + (compiles + [embed]).map { $0.map(Self.quoted).joined(separator: " ") })
            .joined(separator: " && ")
        return [
            .buildCommand(
                displayName: "Compiling and embedding BPF programs \(Self.programs.map { "\($0).bpf.c" }.joined(separator: ", "))",
                executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script],
                inputFiles: Self.programs.map { bpf.appending(path: "\($0).bpf.c") } + Self.headers.map { bpf.appending(path: $0) } + [template],
                outputFiles: [generated]
            ),
        ]
    }

    /// A word for /bin/sh: single-quoted, with any single quote escaped.
    static func quoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// The Debian/Ubuntu multiarch name of the machine the plugin builds for (the host).
    static var multiarch: String {
        #if arch(x86_64)
        return "x86_64-linux-gnu"
        #elseif arch(arm64)
        return "aarch64-linux-gnu"
        #elseif arch(riscv64)
        return "riscv64-linux-gnu"
        #elseif arch(powerpc64le)
        return "powerpc64le-linux-gnu"
        #elseif arch(s390x)
        return "s390x-linux-gnu"
        #else
        return "unknown-linux-gnu"
        #endif
    }
}
