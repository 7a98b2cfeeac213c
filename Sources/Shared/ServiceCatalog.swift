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

        public init(name: String, topic: String, openToAllDevices: Bool = false) {
            self.name = name
            self.topic = topic
            self.openToAllDevices = openToAllDevices
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

    /// Reads `{"services":[{"name":"echo"},{"name":"push","topic":"push.requests","open":true}]}`; a service without a
    /// `topic` gets `<prefix>.up.<name>`.
    /// - Throws: an error naming the file and what is wrong with it.
    public static func load(file path: String, topics: Topics) throws -> ServiceCatalog {
        struct Entry: Decodable {
            var name: String
            var topic: String?
            var open: Bool?
        }
        struct File: Decodable { var services: [Entry] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CatalogError("service file \(path): cannot read it")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data), !file.services.isEmpty else {
            throw CatalogError("service file \(path): expected {\"services\":[{\"name\":…,\"topic\":…,\"open\":…}]}")
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
            list.append(Service(name: entry.name, topic: topic, openToAllDevices: entry.open ?? false))
        }
        guard Set(list.map(\.name)).count == list.count else { throw CatalogError("service file \(path): names must be unique") }
        return ServiceCatalog(list)
    }
}

/// Why a service file was refused.
public struct CatalogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
