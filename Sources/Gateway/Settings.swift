import Configuration
import Foundation
import NIOConcurrencyHelpers
import SystemPackage

/// Where a setting comes from, in order of precedence: a command-line flag, then its environment variable (`CG_…`),
/// then the configuration file (`--config FILE` or `CG_CONFIG`, a JSON object whose keys are the flags' names without
/// `--`, for example `{"kafka": "broker:9092", "max-message-bytes": 65536}`), then the built-in default.
///
/// Flags are ArgumentParser's; this type supplies the defaults it falls back to, so every flag that has an
/// environment variable can also be set in the file. A value that cannot be read (not an integer where one is
/// needed) is recorded and refused at start, naming its key and where it came from.
enum Settings {
    private static let state = NIOLockedValueBox<(file: ConfigReader?, path: String?, problems: [String])>((nil, nil, []))

    /// Loads the configuration file named by `--config` in `arguments` or by `CG_CONFIG`, if any. Call before the
    /// command line is parsed.
    static func load(arguments: [String]) async throws {
        var path = ProcessInfo.processInfo.environment["CG_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let i = arguments.firstIndex(of: "--config"), i + 1 < arguments.count { path = arguments[i + 1] }
        if let equals = arguments.first(where: { $0.hasPrefix("--config=") }) { path = String(equals.dropFirst("--config=".count)) }
        guard let path else { return }
        let provider = try await FileProvider<JSONSnapshot>(filePath: FilePath(path))
        state.withLockedValue { $0 = (ConfigReader(provider: provider), path, []) }
    }

    /// The configuration file in use, if any.
    static var filePath: String? { state.withLockedValue { $0.path } }

    /// The file key of an environment variable: `CG_MAX_MESSAGE_BYTES` → `max-message-bytes`.
    static func key(forEnvironment name: String) -> String {
        (name.hasPrefix("CG_") ? String(name.dropFirst(3)) : name).lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// The value of a setting from its environment variable, else from the configuration file (as text).
    static func string(_ environment: String) -> String? {
        if let value = ProcessInfo.processInfo.environment[environment], !value.isEmpty { return value }
        guard let file = state.withLockedValue({ $0.file }) else { return nil }
        let key = ConfigKey(key(forEnvironment: environment))
        if let text = file.string(forKey: key) { return text }
        if let number = file.int(forKey: key) { return String(number) }
        if let number = file.double(forKey: key) { return String(number) }
        if let flag = file.bool(forKey: key) { return flag ? "1" : "0" }
        return nil
    }

    /// An integer setting; a value that is not an integer is recorded as a problem and the default is used for now.
    static func int(_ environment: String, default value: Int) -> Int {
        number(environment, default: value, kind: "an integer")
    }

    /// An optional integer setting (nil when unset), checked as ``int(_:default:)``.
    static func optionalInt(_ environment: String) -> Int? {
        string(environment) == nil ? nil : int(environment, default: 0)
    }

    /// A yes/no setting: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`; anything else is recorded as a problem
    /// and the default is used for now.
    static func bool(_ environment: String, default value: Bool) -> Bool {
        guard let text = string(environment) else { return value }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            problem("\(key(forEnvironment: environment)): \"\(text)\" is not 1 or 0 (\(source(environment)))")
            return value
        }
    }

    /// A number setting, checked as ``int(_:default:)``.
    static func double(_ environment: String, default value: Double) -> Double {
        number(environment, default: value, kind: "a number")
    }

    private static func number<N: LosslessStringConvertible>(_ environment: String, default value: N, kind: String) -> N {
        guard let text = string(environment) else { return value }
        guard let number = N(text) else {
            problem("\(key(forEnvironment: environment)): \"\(text)\" is not \(kind) (\(source(environment)))")
            return value
        }
        return number
    }

    /// Where the value of `environment` came from, for messages.
    static func source(_ environment: String) -> String {
        if let value = ProcessInfo.processInfo.environment[environment], !value.isEmpty { return "environment variable \(environment)" }
        return "config file \(filePath ?? "")"
    }

    static func problem(_ text: String) { state.withLockedValue { $0.problems.append(text) } }

    /// Problems found while reading settings; the command refuses to start when there are any.
    static var problems: [String] { state.withLockedValue { $0.problems } }
}
