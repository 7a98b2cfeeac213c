import APIContract
import ChannelProtocol
import Crypto
import Foundation
import Infrastructure
import Shared

/// A checked `POST /v1/messages` request: what to write to `<prefix>.down`, one record per device.
///
/// Guarantees: a plan exists only for a request that keeps every rule of docs/api.md ("Send"): a service of the
/// catalog, 1 to ``maxDevices`` distinct device ids each valid by the protocol's rule, exactly one of `body` and
/// `data`, a content type of visible ASCII, a TTL of 0 to ``maxTTL`` seconds; otherwise ``init(_:catalog:)`` throws
/// the 400 message. Pure: no I/O.
struct SendPlan: Equatable {
    static let maxDevices = 1000
    static let defaultTTL: Int64 = 86_400
    static let maxTTL: Int64 = 2_592_000

    struct Refused: Error, Equatable { let message: String }

    let service: String
    let devices: [String]
    let payload: [UInt8]
    let contentType: String
    /// As asked (0: only a device connected now).
    let ttl: Int64
    let receipt: Bool

    init(_ request: Components.Schemas.SendRequest, catalog: Set<String>) throws(Refused) {
        guard FieldRules.isServiceName(request.service), catalog.contains(request.service) else {
            throw Refused(message: "service: \(request.service.prefix(64)) is not a service of this gateway (\(catalog.sorted().joined(separator: ", ")))")
        }
        guard (1...Self.maxDevices).contains(request.devices.count) else {
            throw Refused(message: "devices: 1 to \(Self.maxDevices) device ids (got \(request.devices.count))")
        }
        var seen = Set<String>()
        for device in request.devices {
            guard FieldRules.isDeviceID(device) else {
                throw Refused(message: "devices: \(device.prefix(64).debugDescription) is not a device id (1 to 128 bytes, no control characters)")
            }
            guard seen.insert(device).inserted else { throw Refused(message: "devices: \(device.prefix(64)) is listed twice") }
        }
        (payload, contentType) = try Self.payload(body: request.body, data: request.data, contentType: request.contentType)
        let ttl = request.ttl ?? Self.defaultTTL
        guard (0...Self.maxTTL).contains(ttl) else { throw Refused(message: "ttl: 0 to \(Self.maxTTL) seconds") }
        self.service = request.service
        self.devices = request.devices
        self.ttl = ttl
        self.receipt = request.receipt ?? true
    }

    /// A message's bytes and content type from exactly one of `body` (a JSON value, `application/json` unless
    /// `contentType` says otherwise) and `data` (base64, `application/octet-stream` unless it says otherwise).
    static func payload(body: OpenAPIValueContainer?, data: String?,
                        contentType: String?) throws(Refused) -> (bytes: [UInt8], contentType: String) {
        switch (body, data) {
        case (let body?, nil):
            return (try json(body), try Self.contentType(contentType) ?? ContentType.json)
        case (nil, let data?):
            guard let bytes = Data(base64Encoded: data) else { throw Refused(message: "data: not standard base64 (RFC 4648 §4)") }
            return (Array(bytes), try Self.contentType(contentType) ?? ContentType.binary)
        default:
            throw Refused(message: "give exactly one of body (a JSON value) and data (base64)")
        }
    }

    /// The body's JSON text. `null` is a JSON value too, but a body of null is read as no body at all.
    static func json(_ body: OpenAPIValueContainer) throws(Refused) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let bytes = try? encoder.encode(body) else { throw Refused(message: "body: not a JSON value") }
        return Array(bytes)
    }

    static func contentType(_ given: String?) throws(Refused) -> String? {
        guard let given else { return nil }
        guard (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw Refused(message: "content_type: 1 to 128 visible ASCII characters")
        }
        return given
    }

    /// The message id for `device`: derived from the key's fingerprint, the idempotency key and the device when there
    /// is an idempotency key (a repeat, even after a crash, writes the same ids and the mailbox keeps one of each),
    /// random otherwise.
    static func messageID(device: String, keyFingerprint: String, idempotencyKey: String?) -> String {
        guard let idempotencyKey else {
            return "api-" + HexText.random(bytes: 16)
        }
        let digest = SHA256.hash(data: Array("\(keyFingerprint)\n\(idempotencyKey)\n\(device)".utf8))
        return "api-" + HexText.of(digest.prefix(16))
    }

    /// The records to produce, in device order.
    func records(ids: [String]) -> [DownstreamRecord] {
        zip(devices, ids).map { device, id in
            // TTL 0 means "only if connected now"; the router treats 0 as already expired, so the record says 1 s, as
            // the push service does.
            DownstreamRecord(device: device, service: service, id: id, contentType: contentType, ttlSeconds: max(1, ttl),
                             payload: payload, receipt: receipt)
        }
    }
}
