import ArgumentParser
import TCPKeep

#if canImport(Glibc)
import Glibc
#endif

@main
struct TCPKeepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcpkeep",
        abstract: "Turn TCP keepalive on for programs that never asked for it.",
        version: "0.1.0",
        subcommands: [Run.self, Env.self, Audit.self, Plan.self, Systemd.self, Sysctl.self, Doctor.self, Fix.self]
    )

    /// Usage errors exit 2, as the shell's own tools do, not ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileDescriptor.standardError.write(fullMessage(for: error) + "\n")
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Writing straight to a descriptor, so nothing is left in a buffer when `run` replaces the process.
enum FileDescriptor {
    case standardOutput, standardError

    func write(_ text: String) {
        _ = writeAll(text, to: self == .standardOutput ? STDOUT_FILENO : STDERR_FILENO)
    }
}

/// Writes all of `text`, retrying short writes; the errno of a failure, or 0.
func writeAll(_ text: String, to fd: Int32) -> Int32 {
    var text = text
    return text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return written < 0 ? errno : EIO }
            offset += written
        }
        return 0
    }
}

/// A message for the user and the status to exit with.
struct Failure: Error {
    let message: String
    let status: Int32
}

extension ParsableCommand {
    /// Runs `body`, printing a `Failure` as `tcpkeep: message` and exiting with its status.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as Failure {
            FileDescriptor.standardError.write("tcpkeep: \(failure.message)\n")
            throw ExitCode(failure.status)
        }
    }
}
