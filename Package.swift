// swift-tools-version:6.3;(experimentalCGen)
// experimentalCGen: the BuildBPF plugin generates a C source for the CTCPKeepBPF target.
import PackageDescription

let package = Package(
    name: "tcpkeep",
    products: [
        .executable(name: "tcpkeep", targets: ["tcpkeep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The preload shim's source. SwiftPM compiles it here as a check; the library users
        // preload is linked by the BuildShim plugin, because SwiftPM's own dynamic-library
        // products pull in libswiftCore and a preload library must need libc alone.
        .target(
            name: "TCPKeepShim",
            path: "shim",
            publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]
        ),
        .plugin(name: "BuildShim", capability: .buildTool(), path: "Plugins/BuildShim"),
        .target(
            name: "TCPKeep",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            plugins: ["BuildShim"]
        ),
        .target(name: "CLinux", cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]),
        // Kernel mode: the BPF programs (bpf/tcpkeep.bpf.c), compiled and embedded by BuildBPF,
        // and their loader over libbpf. The installed binary needs libbpf.so.1 (Debian: libbpf1).
        .plugin(name: "BuildBPF", capability: .buildTool(), path: "Plugins/BuildBPF"),
        .target(
            name: "CTCPKeepBPF",
            cSettings: [.unsafeFlags(["-std=c11", "-Wall", "-Wextra", "-Werror"])],
            linkerSettings: [.linkedLibrary("bpf")],
            plugins: ["BuildBPF"]
        ),
        .executableTarget(name: "tcpkeep", dependencies: ["TCPKeep", "CLinux", "CTCPKeepBPF"]),
        .testTarget(name: "TCPKeepTests", dependencies: ["TCPKeep", "tcpkeep"]),
    ]
)
