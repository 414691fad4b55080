// libFuzzer entry point for the ELF reader that judges whether a preload reaches a program: a
// crafted header once crashed `doctor`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = preloadObstacles(executable: bytes, mode: 0o100755, hasFileCapabilities: false)
    return 0
}
