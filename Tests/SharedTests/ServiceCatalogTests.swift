import Foundation
import Testing
@testable import Shared

@Suite struct ServiceCatalogTests {
    let topics = Topics(prefix: "cg")
    let grant = DeviceGrant(device: "d", services: ["echo"], expiresAt: .distantFuture)

    @Test func namesMapToConventionalTopicsAndTokensDecide() {
        let catalog = ServiceCatalog(names: ["echo", "push"], topics: topics)
        #expect(catalog.service("echo")?.topic == "cg.up.echo")
        #expect(catalog.allows(grant, "echo"))
        #expect(!catalog.allows(grant, "push"), "not in the token")
        #expect(!catalog.allows(DeviceGrant(device: "d", services: ["*"], expiresAt: .distantFuture), "nope"), "does not exist")
    }

    @Test func fileGivesTopicsAndOpenServices() throws {
        let path = NSTemporaryDirectory() + "services-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"services":[{"name":"echo"},{"name":"presence","topic":"presence.in","open":true}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let catalog = try ServiceCatalog.load(file: path, topics: topics)
        #expect(catalog.names == ["echo", "presence"])
        #expect(catalog.service("presence")?.topic == "presence.in")
        #expect(catalog.allows(grant, "presence"), "open to every device with a valid token")

        for bad in [#"{"services":[{"name":"Bad Name"}]}"#, #"{"services":[{"name":"x","topic":"a/b"}]}"#,
                    #"{"services":[]}"#, #"{"services":[{"name":"x"},{"name":"x"}]}"#, "nope"] {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: CatalogError.self) { try ServiceCatalog.load(file: path, topics: topics) }
        }
    }

    /// Writes `json` to a file of its own and loads it.
    private func load(_ json: String) throws -> ServiceCatalog {
        let path = NSTemporaryDirectory() + "services-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return try ServiceCatalog.load(file: path, topics: topics)
    }

    /// The message a file is refused with, or nil when it loads.
    private func refusal(_ json: String) -> String? {
        do { _ = try load(json); return nil } catch { return "\(error)" }
    }

    @Test func anEntrysClaimsAreItsDefaultClaims() throws {
        let catalog = try load(#"{"services":[{"name":"echo"},{"name":"presence","claims":{"rooms":["team-7.*","lobby"],"watch":[">"],"empty":[]}}]}"#)
        #expect(catalog.service("presence")?.defaultClaims == ["rooms": ["team-7.*", "lobby"], "watch": [">"], "empty": []])
        #expect(catalog.service("echo")?.defaultClaims == [:], "no claims: no defaults")
        // The edge's header: the token's own claims win, the defaults fill in the rest.
        let header = catalog.claims(for: "presence", tokenClaims: Array(#"{"exp":5,"rooms":["mine"]}"#.utf8))
        #expect(String(decoding: header, as: UTF8.self) == #"{"empty":[],"exp":5,"rooms":["mine"],"watch":[">"]}"#)
    }

    @Test func claimsThatAreNotArraysOfPatternsAreRefusedNamingTheFileAndTheClaim() throws {
        let cases: [(json: String, says: String)] = [
            (#"{"services":[{"name":"presence","claims":{"rooms":"demo"}}]}"#, #"claim "rooms": expected an array of patterns"#),
            (#"{"services":[{"name":"presence","claims":{"rooms":[1]}}]}"#, #"claim "rooms": expected an array of patterns"#),
            (#"{"services":[{"name":"presence","claims":{"watch":[">", null]}}]}"#, #"claim "watch": expected an array"#),
            (#"{"services":[{"name":"presence","claims":{"watch":["a.>.b"]}}]}"#, #"claim "watch": topic pattern "a.>.b""#),
            (#"{"services":[{"name":"presence","claims":{"rooms":["team 7"]}}]}"#, #"claim "rooms": topic pattern "team 7""#),
            (#"{"services":[{"name":"presence","claims":{"watch":["{sub}-*"]}}]}"#, #"topic pattern "{sub}-*""#),
            (#"{"services":[{"name":"presence","claims":{"services":["*"]}}]}"#, #"claim "services": not a claim a service file may set"#),
            (#"{"services":[{"name":"presence","claims":{"sub":["x"]}}]}"#, #"claim "sub": not a claim"#),
            (#"{"services":[{"name":"presence","claims":{"":["x"]}}]}"#, #"claim "": not a claim"#),
        ]
        for (json, says) in cases {
            let message = refusal(json)
            #expect(message?.contains("service file ") == true && message?.contains(#"service "presence""#) == true, "\(json): \(message ?? "loaded")")
            #expect(message?.contains(says) == true, "\(json): \(message ?? "loaded")")
        }
        // Not an object at all: the file's shape is wrong.
        #expect(refusal(#"{"services":[{"name":"presence","claims":["rooms"]}]}"#)?.contains(#""claims":{…}"#) == true)
    }
}
