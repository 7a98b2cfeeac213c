import ChannelProtocol
import Foundation

/// The services an edge offers: their names, the topic each one's device messages go to, and who may use them.
///
/// Guarantees: only services listed here exist for devices (anything else is `unknown_service`); a service is used
/// only by devices whose token names it (or `*`), unless it is marked open to every authenticated device; topics
/// are fixed by configuration, never by device input.
public struct ServiceCatalog: Sendable, Equatable {
    public struct Service: Sendable, Equatable {
        public var name: String
        /// Where device messages for this service are published.
        public var topic: String
        /// Whether any device with a valid token may use it, whatever its token's `services` claim says.
        public var openToAllDevices: Bool
        /// Claims every sender to this service is given where its token has no claim of that name (for example
        /// presence's `rooms` and `watch`), stamped on its upstream records for the service to enforce.
        public var defaultClaims: [String: [String]]

        public init(name: String, topic: String, openToAllDevices: Bool = false, defaultClaims: [String: [String]] = [:]) {
            self.name = name
            self.topic = topic
            self.openToAllDevices = openToAllDevices
            self.defaultClaims = defaultClaims
        }
    }

    public private(set) var services: [String: Service]

    /// Services by name, each on `<prefix>.up.<name>`, open only to tokens that name them.
    public init(names: [String], topics: Topics) {
        services = Dictionary(uniqueKeysWithValues: Set(names).map { ($0, Service(name: $0, topic: topics.up($0))) })
    }

    public init(_ list: [Service]) {
        services = Dictionary(list.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    public var names: Set<String> { Set(services.keys) }

    public func service(_ name: String) -> Service? { services[name] }

    /// Whether the device holding `grant` may send to `name` (which must exist).
    public func allows(_ grant: DeviceGrant, _ name: String) -> Bool {
        guard let service = services[name] else { return false }
        return service.openToAllDevices || grant.allows(name)
    }

    /// The `claims` header of a record for `name` from a sender whose token's claims are `tokenClaims` (a JSON
    /// object's bytes, ``DeviceGrant/claims``): those, plus the service's default claims the token lacks, keys sorted.
    /// The token's own bytes when the service has no defaults.
    public func claims(for name: String, tokenClaims: [UInt8]) -> [UInt8] {
        guard let defaults = services[name]?.defaultClaims, !defaults.isEmpty else { return tokenClaims }
        var merged = ((try? JSONSerialization.jsonObject(with: Data(tokenClaims))) as? [String: Any]) ?? [:]
        for (claim, values) in defaults where merged[claim] == nil { merged[claim] = values }
        let data = try? JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.map { Array($0) } ?? tokenClaims
    }

    /// Reads `{"services":[{"name":"echo"},{"name":"push","topic":"push.requests","open":true}]}`; a service without a
    /// `topic` gets `<prefix>.up.<name>`. An entry's `claims`, for example `{"rooms":["demo"],"watch":[">"]}`, become
    /// its ``Service/defaultClaims``: each an array of ``TopicPattern``s, under a name the edge does not read itself
    /// (not `sub`, `aud`, `iss`, `exp`, `nbf`, `iat`, `jti`, `services` or `topics`).
    /// - Throws: an error naming the file and what is wrong with it.
    public static func load(file path: String, topics: Topics) throws -> ServiceCatalog {
        struct Entry: Decodable {
            var name: String
            var topic: String?
            var open: Bool?
            var claims: [String: ClaimValue]?
        }
        struct File: Decodable { var services: [Entry] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CatalogError("service file \(path): cannot read it")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data), !file.services.isEmpty else {
            throw CatalogError("service file \(path): expected {\"services\":[{\"name\":…,\"topic\":…,\"open\":…,\"claims\":{…}}]}")
        }
        var list: [Service] = []
        for entry in file.services {
            guard FieldRules.isServiceName(entry.name) else {
                throw CatalogError("service file \(path): \"\(entry.name)\" is not a service name (a-z 0-9 - _)")
            }
            let topic = entry.topic ?? topics.up(entry.name)
            guard !topic.isEmpty, topic.utf8.count <= 249,
                  topic.utf8.allSatisfy({ $0 == 0x2E || $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0)
                      || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw CatalogError("service file \(path): \"\(topic)\" is not a Kafka topic name")
            }
            let claims = try defaultClaims(entry.claims ?? [:], of: entry.name, file: path)
            list.append(Service(name: entry.name, topic: topic, openToAllDevices: entry.open ?? false, defaultClaims: claims))
        }
        guard Set(list.map(\.name)).count == list.count else { throw CatalogError("service file \(path): names must be unique") }
        return ServiceCatalog(list)
    }

    /// Claims a service file may not give defaults for: the token's registered claims and those the edge enforces
    /// itself, where a default would never be what the edge checks.
    static let reservedClaims: Set<String> = ["sub", "aud", "iss", "exp", "nbf", "iat", "jti", "services", "topics"]

    /// A service entry's `claims`, checked: each an array of valid topic patterns, under a name not reserved.
    private static func defaultClaims(_ claims: [String: ClaimValue], of service: String, file path: String) throws -> [String: [String]] {
        var checked: [String: [String]] = [:]
        for (name, value) in claims.sorted(by: { $0.key < $1.key }) {
            let place = "service file \(path): service \"\(service)\", claim \"\(name.prefix(64))\""
            guard !name.isEmpty, !reservedClaims.contains(name) else {
                throw CatalogError("\(place): not a claim a service file may set (\(reservedClaims.sorted().joined(separator: ", ")) are the token's own)")
            }
            guard case .strings(let patterns) = value else {
                throw CatalogError("\(place): expected an array of patterns, such as [\"team-7.*\", \">\"]")
            }
            for pattern in patterns {
                do { _ = try TopicPattern(pattern) } catch { throw CatalogError("\(place): \(error.message)") }
            }
            checked[name] = patterns
        }
        return checked
    }
}

/// A value under a service entry's `claims`: an array of strings, or anything else (refused with its own message).
private enum ClaimValue: Decodable {
    case strings([String])
    case other

    init(from decoder: any Decoder) throws {
        self = (try? decoder.singleValueContainer().decode([String].self)).map(ClaimValue.strings) ?? .other
    }
}

/// Why a service file was refused.
public struct CatalogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
