// libFuzzer entry point for the agent's globs: the first line is a glob, the rest a cgroup path
// (also read as a kubelet's pod cgroup).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPathGlob(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let path = parts.count > 1 ? String(parts[1]) : ""
    for allowingSlashes in [true, false] {
        guard let glob = try? PathGlob(String(parts[0]), allowingSlashes: allowingSlashes) else { continue }
        _ = glob.matchesPathOrAncestor(path.split(separator: "/"))
    }
    _ = try? ListenAddress(parsing: String(parts[0]))
    _ = containerID(ofCgroupPath: path)
    _ = KubernetesPod(annotations: [:], cgroupPath: path.split(separator: "/"))
    _ = loggable(text)
    return 0
}
