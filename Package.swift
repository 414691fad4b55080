// swift-tools-version:6.0
import PackageDescription

// Three Swift modules, with dependencies pointing down only:
//   TCPKeepCLI (the `tcpkeep` executable: options wired to engines)
//   -> TCPKeepSystem (everything that touches the running system)
//   -> TCPKeepCore (pure logic over values: parsers, classification, formats, generators).
let strictC: [CSetting] = [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]

let package = Package(
    name: "tcpkeep",
    products: [
        .executable(name: "tcpkeep", targets: ["TCPKeepCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.6.0"),
        // The agent: its policy file (YAML), its log, its /metrics endpoint (NIOHTTP1: an HTTP
        // parser kept by others, and quicker to build cold than a framework over it).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        // The preload shim's source. SwiftPM compiles it here as a check; the library users
        // preload is linked by the BuildShim plugin, because SwiftPM's own dynamic-library
        // products pull in libswiftCore and a preload library must need libc alone. It depends
        // on CLinux for the keepalive option table they share, a header; nothing is linked.
        .target(name: "TCPKeepShim", dependencies: ["CLinux"], path: "shim", publicHeadersPath: ".", cSettings: strictC),
        .plugin(name: "BuildShim", capability: .buildTool(), path: "Plugins/BuildShim"),
        .target(name: "CLinux", cSettings: strictC),
        // Kernel mode and the audit's socket holders iterator: the BPF programs in bpf/,
        // compiled at build time and embedded in TCPKeepSystem by the BuildBPF plugin, loaded
        // by CTCPKeepBPF with libbpf, which it opens at run time (Debian's libbpf1), so that
        // building needs no libbpf and only kernel mode needs it installed.
        .plugin(name: "BuildBPF", capability: .buildTool(), path: "Plugins/BuildBPF"),
        .target(name: "CTCPKeepBPF", cSettings: [.unsafeFlags(["-std=c11", "-Wall", "-Wextra", "-Werror"])]),
        .target(name: "TCPKeepCore", dependencies: ["Yams"]),
        .target(
            name: "TCPKeepSystem",
            dependencies: [
                "TCPKeepCore", "CLinux", "CTCPKeepBPF",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            plugins: ["BuildShim", "BuildBPF"]),
        .executableTarget(
            name: "TCPKeepCLI",
            dependencies: [
                "TCPKeepSystem", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "TCPKeepCoreTests", dependencies: ["TCPKeepCore"]),
        .testTarget(name: "TCPKeepEndToEndTests", dependencies: ["TCPKeepCore", "CLinux", "TCPKeepCLI"]),
    ]
)
