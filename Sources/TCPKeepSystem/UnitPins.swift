import TCPKeepCore

#if canImport(Glibc)
import Glibc
#endif

/// For `tcpkeep doctor --unit`: each `BPFProgram=` of the unit whose pin is not on bpffs. systemd
/// skips such a program at the unit's start ("foreign program ... does not exist, skipping"), so
/// kernel mode does not reach the unit although its drop-in is in place.
func missingBPFProgramPins(of sources: UnitSources) -> [String] {
    sources.bpfPrograms.compactMap { program in
        var status = stat()
        guard stat(program.path, &status) != 0 else { return nil }
        let code = errno
        let setting = "BPFProgram=\(program.type):\(program.path)"
        guard code == ENOENT || code == ENOTDIR else {
            return "cannot tell whether the pin of \(setting) exists: \(SystemError("stat \(program.path)", code: code))"
        }
        let loader = kernelPinService(sources.unit)
        let advice = program.path.hasPrefix(kernelPinRoot + "/")
            ? "systemctl restart \(sources.unit) starts \(loader), which pins it (its journal says why when it fails)"
            : "whatever pins it has not run"
        return "\(setting) names a pin that does not exist: systemd skips it at each start of \(sources.unit), so that program does not run for it; \(advice)"
    }
}
