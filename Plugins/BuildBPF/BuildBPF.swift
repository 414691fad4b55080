import Foundation
import PackagePlugin

/// Compiles `bpf/tcpkeep.bpf.c` for `-target bpf` with the toolchain's clang and turns the object
/// into a C source, `tcpkeep_bpf_object.c`, that defines `tcpkeep_bpf_object[]` and
/// `tcpkeep_bpf_object_size` (by preprocessing `bpf/embed.c.in`, whose C23 `#embed` pulls the
/// object's bytes in). Applied to the C target `CTCPKeepBPF`, whose loader hands those bytes to
/// libbpf's `bpf_object__open_mem`, so the object lives inside the executable and nothing
/// generated is committed.
///
/// SwiftPM compiles a C source a plugin generates only when the manifest opts in with
/// `// swift-tools-version: 6.3;(experimentalCGen)`; without it SwiftPM warns
/// "C source file generation not enabled" and leaves the file out, and the link fails.
@main
struct BuildBPF: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let source = package.appending(path: "bpf/tcpkeep.bpf.c")
        let mapHeader = package.appending(path: "bpf/tcpkeep_map.h")
        let template = package.appending(path: "bpf/embed.c.in")
        // The object is an intermediate file, not an output: every output of a build command
        // that is no source becomes a resource of the target, and would be installed beside
        // the executable as tcpkeep_CTCPKeepBPF.resources/. So one shell command makes both.
        let objectDirectory = context.pluginWorkDirectoryURL.appending(path: "object")
        let object = objectDirectory.appending(path: "tcpkeep.bpf.o")
        let generated = context.pluginWorkDirectoryURL.appending(path: "tcpkeep_bpf_object.c")
        let clang = try context.tool(named: "clang").url

        let compile = [
            clang.path, "-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
            // <linux/types.h> includes <asm/types.h>, which lives in the multiarch directory
            // that clang does not search for -target bpf.
            "-idirafter", "/usr/include/\(Self.multiarch)",
            "-c", source.path, "-o", object.path,
        ]
        let embed = [
            clang.path, "-E", "-P", "-std=c23", "-x", "c", "--embed-dir=\(objectDirectory.path)",
            template.path, "-o", generated.path,
        ]
        let script = "mkdir -p \(Self.quoted(objectDirectory.path)) && "
            + compile.map(Self.quoted).joined(separator: " ") + " && "
            + embed.map(Self.quoted).joined(separator: " ")
        return [
            .buildCommand(
                displayName: "Compiling and embedding BPF program tcpkeep.bpf.c",
                executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script],
                inputFiles: [source, mapHeader, template],
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
