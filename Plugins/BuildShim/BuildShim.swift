import PackagePlugin

/// Links `libtcpkeep.so` from the C sources of the `TCPKeepShim` target with the toolchain's
/// clang, with CLinux's headers for the option table they share. The output becomes a resource
/// of the target the plugin is applied to, so it lands in that target's resource bundle beside
/// the `tcpkeep` executable.
@main
struct BuildShim: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let shim = try context.package.targets(named: ["TCPKeepShim"]).first as? SourceModuleTarget else {
            throw PluginError.missingTarget
        }
        let sources = shim.sourceFiles(withSuffix: "c").map(\.url)
        // CLinux's public header; a target's own directoryURL needs tools version 6.1.
        let header = context.package.directoryURL.appending(path: "Sources/CLinux/include/tcpkeep_options.h")
        let library = context.pluginWorkDirectoryURL.appending(path: "libtcpkeep.so")
        return [
            .buildCommand(
                displayName: "Linking libtcpkeep.so",
                executable: try context.tool(named: "clang").url,
                arguments: [
                    "-std=gnu11", "-O2", "-gdwarf-4", "-fPIC", "-shared", "-fvisibility=hidden",
                    "-Wall", "-Wextra", "-Werror", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong",
                    "-fuse-ld=lld", "-Wl,-z,relro,-z,now", "-Wl,--as-needed",
                    "-I", header.deletingLastPathComponent().path, "-o", library.path,
                ] + sources.map(\.path),
                inputFiles: sources + [header],
                outputFiles: [library]
            ),
        ]
    }

    enum PluginError: Error, CustomStringConvertible {
        case missingTarget
        var description: String { "the package needs the C target TCPKeepShim" }
    }
}
