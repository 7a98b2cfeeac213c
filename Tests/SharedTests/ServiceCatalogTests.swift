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
}
