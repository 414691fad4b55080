import ArgumentParser
import TCPKeepCore
import TCPKeepSystem

struct PlanCommand: TCPKeepSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what settings do: detection times, probe traffic, and the files they make.",
        discussion: "Takes the same settings as run, env, systemd and sysctl, and changes nothing."
    )

    @OptionGroup var settings: ShimSettingsOptions
    @OptionGroup var library: LibraryOption

    func execute() throws -> Int32 {
        Output.standardOutput.write(planReport(settings: try settings.settings(), library: try library.checkedPath()))
        return 0
    }
}
