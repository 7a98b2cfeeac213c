import ChannelClient
import ChannelProtocol
import DevCluster
import Foundation
import Testing

/// A backend in another language, written against docs/kafka-contract.md with a plain Kafka client
/// (Tests/contract/backend.py, confluent-kafka), exchanges messages with a device.
@Suite(.timeLimit(.minutes(3)))
struct ContractTests {
    static var python: String {
        ProcessInfo.processInfo.environment["CG_TEST_PYTHON"] ?? "/var/cache/channel-gateway/test-venv/bin/python"
    }

    static var backendScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contract/backend.py").path
    }

    @Test func plainKafkaBackendSeesTheDocumentedRecordAndRepliesToTheDevice() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.python),
                "no Python with confluent-kafka at \(Self.python): run scripts/setup.sh")
        let cluster = try await TestCluster.shared
        let backend = try LocalProcess(
            name: "contract-backend", executable: Self.python,
            arguments: [Self.backendScript, "--bootstrap", cluster.broker.bootstrap, "--prefix", "cg", "--service", "contract"])
        defer { backend.stop(grace: 1) }
        try await backend.line(containing: "backend ready", timeout: 60)

        let device = TestCluster.uniqueDevice("contract")
        let client = try await TestCluster.connect(device, edge: 1)
        let body = #"{"question": "what did you get?", "n": 42}"#
        let id = try await client.send(service: "contract", json: body)
        let reply = try await client.nextMessage(within: 30)

        #expect(reply.service == "contract")
        #expect(reply.id == "contract-\(id)")
        guard case .json(let bytes) = reply.payload,
              let report = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let headers = report["headers"] as? [String: String] else {
            Issue.record("the backend's report is not the JSON it writes: \(reply.payload)")
            return
        }
        #expect(report["topic"] as? String == "cg.up.contract")
        #expect(report["key"] as? String == device, "key = device id")
        #expect(report["value"] as? String == body, "value = the body's exact bytes")
        #expect(headers["device"] == device)
        #expect(headers["service"] == "contract")
        #expect(headers["id"] == id)
        #expect(headers["content-type"] == "application/json")
        #expect(headers["edge"] == "edge-2")
        #expect(headers["session"]?.isEmpty == false)
        #expect(Int64(headers["received-at"] ?? "").map { abs($0 - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000 } == true)
        await client.close()
    }
}
