// libFuzzer entry point for the command line's value parsers: durations, counts and ports.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDuration(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? parseDuration(text, in: .seconds)
    _ = try? parseDuration(text, in: .milliseconds)
    for option in KeepaliveOption.allCases {
        if let value = try? option.parse(text) {
            precondition(option.range.contains(value), "\(option) accepted \(value) outside its range")
            _ = formatDuration(seconds: value)
        }
    }
    _ = PortRange(text)
    return 0
}
