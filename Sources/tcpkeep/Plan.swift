import ArgumentParser
import TCPKeep

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what settings do: detection times, probe traffic, and the files they make.",
        discussion: "Takes the same settings as run, env, systemd and sysctl, and changes nothing."
    )

    @OptionGroup var settings: SettingsOptions
    @OptionGroup var library: LibraryOption

    func run() throws {
        try reportingFailures {
            let settings = try settings.settings()
            let unit = try! UnitName("UNIT.service")
            let variables = launchEnvironment(settings: settings, library: try library.path(), existingPreload: nil)
            let sysctl: String
            do throws(SettingsError) {
                sysctl = try sysctlFile(settings: settings)
            } catch {
                sysctl = "(none: \(error.description))\n"
            }
            FileDescriptor.standardOutput.write(planReport(settings: settings, outputs: [
                ("tcpkeep env (for a shell without LD_PRELOAD)", exportLines(variables)),
                ("tcpkeep systemd UNIT --write: \(tcpkeepDropInPath(unit)) (for a unit without LD_PRELOAD)",
                 serviceDropIn(unit: unit, settings: settings, library: try library.path(), existingPreload: nil)),
                ("tcpkeep sysctl --write: \(sysctlFilePath)", sysctl),
            ]))
        }
    }
}
