// libFuzzer entry point for the unit-file readers and the unit-name rules.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUnitFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let entries = unitFileEntries(text)
    _ = environmentPreload(entries)
    _ = serviceProgram(entries)
    _ = showEnvironmentPreload(text)
    let cgroups = ProcessCgroups(parsing: text)
    _ = (systemdUnit(in: cgroups), containerIdentity(in: cgroups))
    if let unit = try? UnitName(text) {
        _ = (unit.template, unit.dropInDirectoryNames, unit.socketUnit)
    }
    return 0
}
