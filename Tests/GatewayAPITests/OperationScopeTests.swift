import Foundation
@testable import GatewayAPI
import Testing

/// Every operation of docs/openapi.yaml names in `x-scopes` exactly the scope the server enforces (``APIAccess``),
/// and the server enforces nothing for an operation the document does not have.
struct OperationScopeTests {
    /// operationId → its x-scopes, read from the document line by line (every operation has both, in that order).
    static func documentScopes() throws -> [String: [String]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml")
        var scopes: [String: [String]] = [:]
        var operation: String?
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("operationId:") {
                operation = text.dropFirst("operationId:".count).trimmingCharacters(in: .whitespaces)
            } else if text.hasPrefix("x-scopes:"), let current = operation {
                let list = text.dropFirst("x-scopes:".count).trimmingCharacters(in: CharacterSet(charactersIn: " []"))
                scopes[current] = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                operation = nil
            }
        }
        return scopes
    }

    @Test func eachOperationsScopeIsTheOneEnforced() throws {
        let document = try Self.documentScopes()
        #expect(document.count == 12)
        #expect(Set(document.keys) == Set(APIAccess.required.keys))
        for (operation, scopes) in document {
            let enforced = try #require(APIAccess.required[operation])
            #expect(scopes == (enforced.map { [$0.rawValue] } ?? []), "\(operation)")
        }
    }

    @Test func theServedDocumentIsTheFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml")
        #expect(APIDocument.bytes == Array(try Data(contentsOf: url)))
    }
}
