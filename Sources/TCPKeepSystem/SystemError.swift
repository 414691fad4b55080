#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed: what was attempted, on what, and the errno it returned, captured
/// right at the failing call (swift-system's `Errno` habit, without the dependency).
public struct SystemError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What was attempted, naming the path or process: `cannot read /proc/1/maps`.
    public let operation: String
    public let code: Int32

    public init(_ operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    public var description: String { "\(operation): \(errorText(code))" }
}

/// The C library's text for an errno value.
public func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// `result` when it is not -1; otherwise a `SystemError` with the errno the call just left.
/// The call is evaluated before anything else runs, so no other call can change errno first.
@discardableResult
func checked<Result: BinaryInteger>(_ result: Result, _ operation: @autoclosure () -> String) throws(SystemError) -> Result {
    guard result == -1 else { return result }
    let code = errno
    throw SystemError(operation(), code: code)
}
