import CLinux
import Foundation
import TCPKeepCore
import Testing

/// The one table of keepalive options, in C for the shim and the C helpers: Swift's
/// `KeepaliveOption` must say the same, and the shim must take exactly what Swift takes.
@Suite("The keepalive option table")
struct KeepaliveOptionTableTests {
    /// Each option's variable and range, as the C table has them.
    static let table: [(variable: String, range: ClosedRange<Int>)] = withUnsafeBytes(of: tcpkeep_option_specs) {
        $0.bindMemory(to: tcpkeep_option_spec.self).map { (String(cString: $0.variable), Int($0.min)...Int($0.max)) }
    }

    /// What the probe calls each option in its output.
    static let probeField = ["KEEPIDLE": "idle", "KEEPINTVL": "intvl", "KEEPCNT": "cnt", "TCPKEEP_USER_TIMEOUT": "user_timeout"]

    @Test("the C table and Swift name the same variables, in the same order, with the same ranges")
    func sameTable() {
        #expect(Self.table.map(\.variable) == KeepaliveOption.allCases.map(\.variable))
        #expect(Self.table.map(\.range) == KeepaliveOption.allCases.map(\.range))
    }

    @Test("the shim takes each option's bounds and refuses one past them, as tcpkeep run does", arguments: KeepaliveOption.allCases)
    func bounds(option: KeepaliveOption) throws {
        let range = option.range
        for value in [range.lowerBound - 1, range.lowerBound, range.upperBound, range.upperBound + 1] {
            let text = String(value)
            let swiftTakes = (try? option.checkEnvironmentValue(text)) != nil
            let result = try ShimVariant.shipped.preloaded(["tcp"], environment: [option.variable: text])
            let socket = try #require(records(result, labelled: "socket").first, "\(result)")
            #expect(result.stderr.contains("ignoring \(option.variable)='\(text)'") == !swiftTakes, "\(option.variable)=\(text): \(result)")
            #expect(swiftTakes == range.contains(value), "\(option.variable)=\(text)")
            if swiftTakes {
                #expect(socket[Self.probeField[option.variable]!] == text, "\(option.variable)=\(text)")
            }
        }
    }
}
