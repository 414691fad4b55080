import PackagePlugin

/// Links `libtcpkeep.so` from the C sources of the `TCPKeepShim` target with the toolchain's
/// clang. The output becomes a resource of the target the plugin is applied to, so it lands
/// beside the `tcpkeep` executable in `tcpkeep_TCPKeep.resources/`.
@main
struct BuildShim: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let shim = try context.package.targets(named: ["TCPKeepShim"]).first as? SourceModuleTarget
        else { throw PluginError.noShimTarget }
        let sources = shim.sourceFiles(withSuffix: "c").map(\.url)
        let library = context.pluginWorkDirectoryURL.appending(path: "libtcpkeep.so")
        return [
            .buildCommand(
                displayName: "Linking libtcpkeep.so",
                executable: try context.tool(named: "clang").url,
                arguments: [
                    "-std=gnu11", "-O2", "-gdwarf-4", "-fPIC", "-shared", "-fvisibility=hidden",
                    "-Wall", "-Wextra", "-Werror", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong",
                    "-fuse-ld=lld", "-Wl,-z,relro,-z,now", "-Wl,--as-needed",
                    "-o", library.path,
                ] + sources.map(\.path),
                inputFiles: sources,
                outputFiles: [library]
            ),
        ]
    }

    enum PluginError: Error, CustomStringConvertible {
        case noShimTarget
        var description: String { "the package has no C target named TCPKeepShim" }
    }
}
