import Foundation
import Logging

/// Writes each log record as one JSON object on a line of standard error, for log collectors:
/// `{"ts":"2026-11-26T02:57:01.123Z","level":"info","logger":"edge.edge-1","msg":"…","source":"Edge", …metadata}`.
///
/// Metadata values become strings (nested dictionaries and arrays as their description); a metadata key that
/// collides with one of the fixed keys is written with a `meta.` prefix, so it never replaces them.
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    private let label: String
    private static let lock = NSLock()
    private static let fixed: Set<String> = ["ts", "level", "logger", "msg", "source"]
    /// Used under `lock` only.
    nonisolated(unsafe) private static let timestamps: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        var record: [String: String] = [
            "level": level.rawValue, "logger": label, "msg": message.description, "source": source,
        ]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            record[Self.fixed.contains(key) ? "meta.\(key)" : key] = "\(value)"
        }
        Self.lock.withLock {
            record["ts"] = Self.timestamps.string(from: Date())
            guard let json = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
            FileHandle.standardError.write(json + Data([0x0A]))
        }
    }
}
