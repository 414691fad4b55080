// libFuzzer entry point for the /proc/net/tcp parser: any bytes, a record list or an error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProcNetTCP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let records = try? parseProcNetTCP(bytes, file: "fuzz") {
        // Formatting reads every field the parser produced.
        for record in records { _ = (record.local.description, record.remote.description, record.timerSeconds) }
    }
    return 0
}
