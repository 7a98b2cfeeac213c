import ChannelProtocol
import Foundation

/// What a device asks of service `push` (docs/push.md, "Device side").
public enum DeviceOp: Sendable, Equatable {
    /// A new subscription; `expiresSeconds` nil means until unsubscribed.
    case subscribe(label: String?, expiresSeconds: Int?)
    case unsubscribe(subscription: String)
    case list

    /// The longest label, in characters.
    public static let maxLabelLength = 64
    /// The longest life of a subscription that expires: one year, in seconds.
    public static let maxExpiresSeconds = 31_536_000

    /// Parses a device message's payload.
    /// - Returns: the op, or a `bad_request` sentence naming what is wrong (never a crash, whatever the bytes).
    public static func parse(_ payload: Payload) -> Result<DeviceOp, DeviceOpError> {
        guard case .json(let bytes) = payload else {
            return .failure(DeviceOpError("the body must be a JSON object with \"op\", not binary data"))
        }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch let error as DecodingError {
            return .failure(DeviceOpError(Self.describe(error)))
        } catch {
            return .failure(DeviceOpError("the body must be a JSON object with \"op\""))
        }
        switch wire.op {
        case "subscribe":
            let label = wire.label.flatMap { $0.isEmpty ? nil : $0 }
            if let label, label.count > maxLabelLength {
                return .failure(DeviceOpError("label: at most \(maxLabelLength) characters"))
            }
            var expires: Int?
            if let seconds = wire.expires {
                guard let whole = Int(exactly: seconds), (1...maxExpiresSeconds).contains(whole) else {
                    return .failure(DeviceOpError("expires: whole seconds from 1 to \(maxExpiresSeconds), or absent for no expiry"))
                }
                expires = whole
            }
            return .success(.subscribe(label: label, expiresSeconds: expires))
        case "unsubscribe":
            guard let subscription = wire.subscription, !subscription.isEmpty else {
                return .failure(DeviceOpError("unsubscribe needs \"subscription\": the id to remove"))
            }
            return .success(.unsubscribe(subscription: subscription))
        case "list":
            return .success(.list)
        case nil:
            return .failure(DeviceOpError("missing \"op\": subscribe, unsubscribe or list"))
        case let other?:
            return .failure(DeviceOpError("unknown op \"\(other.prefix(64))\": subscribe, unsubscribe or list"))
        }
    }

    /// The fields a device may send; unknown fields are ignored (so clients can add some without breaking).
    private struct Wire: Decodable {
        var op: String?
        var label: String?
        /// A Double, so that `1.5` is refused with a sentence about `expires` rather than a generic decoding error.
        var expires: Double?
        var subscription: String?
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            guard let field = context.codingPath.first?.stringValue else {
                return "the body must be a JSON object with \"op\""
            }
            switch field {
            case "expires": return "expires: a whole number of seconds"
            default: return "\(field): must be a string"
            }
        case .dataCorrupted(let context):
            if let field = context.codingPath.first?.stringValue { return "\(field): not a valid value" }
            return "the body must be a JSON object with \"op\""
        case .keyNotFound:
            return "the body must be a JSON object with \"op\""
        @unknown default:
            return "the body must be a JSON object with \"op\""
        }
    }
}

/// A device op that cannot be carried out as sent; answered with `{"op":"error","code":"bad_request",...}`.
public struct DeviceOpError: Error, Sendable, Equatable {
    public var message: String
    /// An error saying `message` (one sentence, shown to the device as is).
    public init(_ message: String) { self.message = message }
}
