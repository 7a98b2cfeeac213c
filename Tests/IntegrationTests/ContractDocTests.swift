import ChannelProtocol
import DevCluster
import Foundation
import Infrastructure
import Shared
import Testing

/// docs/asyncapi.yaml is held to the Swift code of the Kafka contract: its channels are the addresses ``Topics``
/// builds, its messages' headers are exactly the names the codecs in Sources/Shared/Contract write and read
/// (``RecordHeader``'s lists, themselves checked against what each encoder writes), every `$ref` resolves and each
/// channel has a sender and a receiver. The YAML is read with the test virtualenv's PyYAML (scripts/setup.sh), as
/// DeploymentFilesTests reads its files; docs/openapi.yaml goes through openapi-spec-validator from the same place.
@Suite struct ContractDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let python = ProcessInfo.processInfo.environment["CG_TEST_PYTHON"] ?? "/var/cache/channel-gateway/test-venv/bin/python"

    /// The document as JSON objects, parsed by PyYAML's safe loader.
    static func load(_ relativePath: String) async throws -> [String: Any] {
        let script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)"
        let (status, output) = try await LocalProcess.run(python, ["-c", script, root + "/" + relativePath])
        guard status == 0, let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw DocError("\(relativePath) does not parse as a YAML mapping (\(python), status \(status)): \(output.prefix(2000))")
        }
        return object
    }

    struct DocError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The object a local `$ref` (`#/a/b`) points at, or nil.
    static func resolve(_ ref: String, in document: [String: Any]) -> Any? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: Any = document
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let object = node as? [String: Any], let next = object[String(part)] else { return nil }
            node = next
        }
        return node
    }

    /// Every `$ref` anywhere in `node`.
    static func refs(in node: Any) -> [String] {
        if let object = node as? [String: Any] {
            let own = (object["$ref"] as? String).map { [$0] } ?? []
            return own + object.values.flatMap { refs(in: $0) }
        }
        if let array = node as? [Any] { return array.flatMap { refs(in: $0) } }
        return []
    }

    /// Channel name → message name → the header names the document lists, with the Swift list each must equal.
    static let expectedHeaders: [String: [String: [String]]] = [
        "upstream": ["upstreamMessage": RecordHeader.upstream],
        "downstream": ["downstreamMessage": RecordHeader.downstream],
        "report": ["reportMessage": RecordHeader.report],
        "connections": ["connectionEvent": RecordHeader.connectionEvent, "edgeStart": RecordHeader.edgeStart],
        "topics": ["topicMessage": RecordHeader.topic],
    ]

    @Test func channelsAreTheTopicsTheCodeNames() async throws {
        let doc = try await Self.load("docs/asyncapi.yaml")
        #expect((doc["asyncapi"] as? String)?.hasPrefix("3.0") == true)
        let info = doc["info"] as? [String: Any]
        #expect(info?["title"] is String && info?["version"] is String)

        let topics = Topics(prefix: "{prefix}")
        let expected = ["upstream": topics.up("{service}"), "downstream": topics.down, "report": topics.report("{service}"),
                        "connections": topics.connections, "topics": topics.topicStream]
        let channels = try #require(doc["channels"] as? [String: [String: Any]])
        #expect(Set(channels.keys) == Set(expected.keys))
        for (name, address) in expected {
            let channel = try #require(channels[name], "no channel \(name)")
            #expect(channel["address"] as? String == address, "channel \(name)")
            // Each {parameter} of the address is declared, and nothing else is.
            let named = Set(address.split(separator: "{", omittingEmptySubsequences: false).dropFirst().compactMap { $0.split(separator: "}").first.map(String.init) })
            let declared = Set((channel["parameters"] as? [String: Any] ?? [:]).keys)
            #expect(named == declared, "parameters of \(name)")
        }
    }

    @Test func everyRefResolvesAndEveryChannelHasASenderAndAReceiver() async throws {
        let doc = try await Self.load("docs/asyncapi.yaml")
        for ref in Self.refs(in: doc) {
            #expect(Self.resolve(ref, in: doc) != nil, "unresolved $ref \(ref)")
        }
        let operations = try #require(doc["operations"] as? [String: [String: Any]])
        var actions: [String: Set<String>] = [:]
        for (name, operation) in operations {
            let action = try #require(operation["action"] as? String, "operation \(name) has no action")
            #expect(action == "send" || action == "receive", "operation \(name): action \(action)")
            #expect(operation["title"] is String, "operation \(name) says who")
            let channelRef = try #require((operation["channel"] as? [String: Any])?["$ref"] as? String, "operation \(name) has no channel")
            let channel = String(channelRef.dropFirst("#/channels/".count))
            actions[channel, default: []].insert(action)
            // An operation's messages are its channel's own (AsyncAPI 3.0's rule).
            for message in operation["messages"] as? [[String: Any]] ?? [] {
                let ref = message["$ref"] as? String ?? ""
                #expect(ref.hasPrefix(channelRef + "/messages/"), "operation \(name): message \(ref) is not of \(channelRef)")
            }
        }
        for channel in Self.expectedHeaders.keys {
            #expect(actions[channel] == ["send", "receive"], "channel \(channel): operations \(actions[channel] ?? [])")
        }
    }

    @Test func headersAreExactlyThoseTheCodecsWriteAndRead() async throws {
        let doc = try await Self.load("docs/asyncapi.yaml")
        let channels = try #require(doc["channels"] as? [String: [String: Any]])
        for (channelName, messages) in Self.expectedHeaders {
            let listed = try #require(channels[channelName]?["messages"] as? [String: [String: Any]])
            #expect(Set(listed.keys) == Set(messages.keys), "messages of \(channelName)")
            for (messageName, names) in messages {
                let ref = try #require(listed[messageName]?["$ref"] as? String)
                let message = try #require(Self.resolve(ref, in: doc) as? [String: Any], "\(ref)")
                let headers = try #require(message["headers"] as? [String: Any], "\(ref) has no headers")
                let properties = try #require(headers["properties"] as? [String: [String: Any]])
                #expect(Set(properties.keys) == Set(names), "\(channelName)/\(messageName): document \(properties.keys.sorted()), code \(names.sorted())")
                for (header, schema) in properties {
                    #expect((schema["description"] as? String)?.isEmpty == false, "\(messageName): header \(header) has no rule")
                }
                let required = headers["required"] as? [String] ?? []
                #expect(Set(required).isSubset(of: Set(names)), "\(messageName): required \(required)")
                let bindings = (message["bindings"] as? [String: Any])?["kafka"] as? [String: Any]
                #expect(bindings?["key"] != nil, "\(messageName) says nothing of the key")
                #expect(message["payload"] != nil, "\(messageName) has no payload")
            }
        }
    }

    /// The lists are what the encoders write when every optional field is set, and decoding reads back each field.
    @Test func headerListsAreWhatTheEncodersWrite() throws {
        let topics = Topics(prefix: "cg")
        func names(_ record: OutgoingRecord) -> [String] { record.headers.map(\.name) }
        func consumed(_ record: OutgoingRecord) -> KafkaRecord {
            KafkaRecord(topic: record.topic, partition: 0, offset: 7, key: record.key, value: record.value, headers: record.headers)
        }

        let up = UpstreamRecord(device: "d-1", service: "echo", id: "m1", payload: .json(Array("{}".utf8)), edge: "e1",
                                session: "s1", receivedAtMs: 5, claims: Array(#"{"a":1}"#.utf8))
        #expect(Set(names(up.record(topic: topics.up("echo")))) == Set(RecordHeader.upstream))
        #expect(UpstreamRecord(record: consumed(up.record(topic: topics.up("echo"))), service: "echo") == up)

        let down = DownstreamRecord(device: "d-1", service: "echo", id: "m1", contentType: ContentType.binary,
                                    ttlSeconds: 60, inReplyTo: "r1", payload: [1, 2], receipt: true)
        #expect(Set(names(down.record(topics: topics))).isSuperset(of: Set(RecordHeader.downstream)))
        #expect(Set(names(down.record(topics: topics))).isSubset(of: Set(RecordHeader.downstream)),
                "DownstreamRecord writes a header RecordHeader.downstream and docs/asyncapi.yaml lack")
        #expect(DownstreamRecord(record: consumed(down.record(topics: topics))) == down)

        let report = ReportRecord(device: "d-1", service: "echo", id: "m1", contentType: ContentType.json,
                                  reason: .mailboxFull, expiresAtMs: 9, payload: [])
        #expect(Set(names(report.record(topics: topics))) == Set(RecordHeader.report))
        #expect(ReportRecord(record: consumed(report.record(topics: topics))) == report)

        let event = ConnectionEvent(kind: .disconnect, device: "d-1", edge: "e1", session: "s1", epoch: 3, atMs: 4)
        #expect(Set(names(event.record(topics: topics))) == Set(RecordHeader.connectionEvent))
        #expect(try ConnectionEventRecord(record: consumed(event.record(topics: topics))) == .connection(event))

        let start = ConnectionEventRecord.started(edge: "e1", atMs: 8)
        #expect(Set(names(start.record(topics: topics))) == Set(RecordHeader.edgeStart))
        #expect(try ConnectionEventRecord(record: consumed(start.record(topics: topics))) == start)

        let topic = TopicRecord(topic: "room.7", service: "push", contentType: ContentType.json, id: "p1", payload: Array("1".utf8))
        #expect(Set(names(topic.record(topics: topics))) == Set(RecordHeader.topic))
        #expect(TopicRecord(record: consumed(topic.record(topics: topics))) == topic)
    }

    /// The HTTP API's document passes openapi-spec-validator (OpenAPI 3.0/3.1 schema and its semantic checks).
    @Test func openAPIDocumentIsValid() async throws {
        let validator = URL(fileURLWithPath: Self.python).deletingLastPathComponent().appendingPathComponent("openapi-spec-validator").path
        #expect(FileManager.default.isExecutableFile(atPath: validator), "no \(validator): run scripts/setup.sh")
        let (status, output) = try await LocalProcess.run(validator, [Self.root + "/docs/openapi.yaml"])
        #expect(status == 0, "openapi-spec-validator docs/openapi.yaml: \(output)")
    }
}
