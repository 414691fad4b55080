import PackagePlugin

/// Compiles the BPF programs, `bpf/tcpkeep.bpf.c` (kernel mode) and `bpf/socket_holders.bpf.c`
/// (the audit's socket holders iterator), with the toolchain's clang through `bpf/build`, which
/// holds the compiler flags, and has it write a Swift source holding the objects. Applied to
/// `TCPKeepSystem`, whose `EmbeddedBPF` hands the bytes to the C loaders, so the objects live
/// inside the executable and nothing generated is committed.
@main
struct BuildBPF: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpf = context.package.directoryURL.appending(path: "bpf")
        let script = bpf.appending(path: "build")
        // The objects are intermediate files, not outputs: every output of a build command
        // that is no source becomes a resource of the target, and would be installed beside
        // the executable. So one command makes both objects and the Swift source.
        let objects = context.pluginWorkDirectoryURL.appending(path: "objects")
        let generated = context.pluginWorkDirectoryURL.appending(path: "EmbeddedBPFObjects.swift")
        let inputs = ["tcpkeep.bpf.c", "socket_holders.bpf.c", "tcpkeep_bpf.h", "tcpkeep_map.h", "socket_holders.h"]
        return [
            .buildCommand(
                displayName: "Compiling and embedding the BPF programs",
                executable: script,
                arguments: [try context.tool(named: "clang").url.path, objects.path, generated.path],
                inputFiles: [script] + inputs.map { bpf.appending(path: $0) },
                outputFiles: [generated]
            ),
        ]
    }
}
