import TCPKeepCore

/// A value inherited from the environment that the shim would refuse is refused here, before
/// the program starts, rather than reported by the shim once it runs. `settings` are those the
/// command line gives, which replace the inherited ones.
public func checkInheritedSettings(overriddenBy settings: KeepaliveSettings) throws(SettingsError) {
    let overridden = Set(settings.environment.map(\.name))
    // An empty value is unset for the shim, as for systemd's `Environment=NAME=`.
    func inherited(_ variable: String) -> String? {
        overridden.contains(variable) ? nil : environmentValue(variable).flatMap { $0.isEmpty ? nil : $0 }
    }
    for option in KeepaliveOption.allCases {
        guard let value = inherited(option.variable) else { continue }
        do throws(SettingsError) {
            try option.checkEnvironmentValue(value)
        } catch {
            throw SettingsError("\(error.description); set it right or override it with \(option.flag)")
        }
    }
    if let value = inherited("KEEPALIVE") {
        guard let on = shimSwitch(value) else {
            throw SettingsError("KEEPALIVE='\(value)' in the environment is invalid: the shim takes on or off")
        }
        guard on else {
            throw SettingsError("KEEPALIVE='\(value)' in the environment turns the shim off for every socket; unset it")
        }
    }
    if let value = inherited("TCPKEEP_ENFORCE"), shimSwitch(value) == nil {
        throw SettingsError("TCPKEEP_ENFORCE='\(value)' in the environment is invalid: the shim takes on or off; or use --enforce")
    }
    if let value = inherited("TCPKEEP_LOG"), ShimLogLevel(rawValue: value.lowercased()) == nil {
        throw SettingsError("TCPKEEP_LOG='\(value)' in the environment is invalid: the shim takes quiet, error or debug; or use --log")
    }
}

/// `settings` with the values they leave out taken from the environment's shim variables, each
/// checked as the shim would: how `tcpkeep kernel pin` reads a unit drop-in's `Environment=`.
public func inheritedSettings(underneath settings: KeepaliveSettings) throws(SettingsError) -> KeepaliveSettings {
    try checkInheritedSettings(overriddenBy: settings)
    var merged = settings
    for option in KeepaliveOption.allCases where merged[keyPath: option.keyPath] == nil {
        merged[keyPath: option.keyPath] = environmentValue(option.variable).flatMap(parseWholeNumber)
    }
    if !merged.enforce, let value = environmentValue("TCPKEEP_ENFORCE") {
        merged.enforce = shimSwitch(value) ?? false
    }
    return merged
}
