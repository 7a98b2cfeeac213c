import Foundation
@testable import GatewayAPI
import Testing

/// `--api-key SCOPES:SECRET` parsing and the scope check (docs/api.md, "Keys and scopes").
struct APIKeyTests {
    let secret = "0123456789abcdef-secret"

    @Test func scopesAreParsedAndOnlyThoseAreGranted() throws {
        let key = try APIKey(parsing: "send+read:\(secret)")
        #expect(key.scopes == [.send, .read])
        let admin = try APIKey(parsing: "admin:\(secret)x")
        #expect(admin.scopes == [.admin])
        let keys = [key, admin]
        #expect(APIAccess.decide(operation: "sendMessages", authorization: "Bearer \(secret)", keys: keys) == .allowed(key))
        #expect(APIAccess.decide(operation: "getDevice", authorization: "Bearer \(secret)", keys: keys) == .allowed(key))
        #expect(APIAccess.decide(operation: "clearMailbox", authorization: "Bearer \(secret)", keys: keys) == .forbidden(needs: .admin))
        // admin does not imply the others.
        #expect(APIAccess.decide(operation: "getDevice", authorization: "Bearer \(secret)x", keys: keys) == .forbidden(needs: .read))
        #expect(APIAccess.decide(operation: "drainEdge", authorization: "Bearer \(secret)x", keys: keys) == .allowed(admin))
    }

    @Test func missingWrongAndMalformedAuthorizationAre401() throws {
        let keys = [try APIKey(parsing: "send:\(secret)")]
        for header in [nil, "", "Bearer", "Bearer ", "Basic \(secret)", "Bearer \(secret.dropLast())", "bearer \(secret)",
                       "Bearer \(secret)0"] as [String?] {
            #expect(APIAccess.decide(operation: "sendMessages", authorization: header, keys: keys) == .unauthorized, "\(header ?? "nil")")
        }
        #expect(APIAccess.decide(operation: "sendMessages", authorization: "Bearer  \(secret) ", keys: keys) == .allowed(keys[0]))
    }

    @Test func theDocumentNeedsNoKeyAndAnUnknownOperationIsClosed() {
        #expect(APIAccess.decide(operation: "getOpenAPIDocument", authorization: nil, keys: []) == .allowed(nil))
        #expect(APIAccess.decide(operation: "somethingNew", authorization: "Bearer \(secret)", keys: []) == .forbidden(needs: nil))
    }

    @Test func badKeysAreRefusedWithoutRepeatingTheSecret() {
        let cases = ["nocolon\(secret)", "write:\(secret)", "send+send:\(secret)", "send:short", "send:\(secret) x",
                     ":\(secret)", "send+:\(secret)"]
        for text in cases {
            #expect(throws: APIKey.Malformed.self, "\(text)") { try APIKey(parsing: text) }
            do { _ = try APIKey(parsing: text) } catch { #expect(!error.description.contains(secret)) }
        }
    }

    @Test func theEnvironmentIsReadWhenNoFlagIsGivenAndRepeatsAreRefused() throws {
        let keys = try APIKey.parseAll([], environment: " send:\(secret) , read+admin:\(secret)-2 ")
        #expect(keys.map(\.scopes) == [[.send], [.read, .admin]])
        #expect(try APIKey.parseAll(["admin:\(secret)"], environment: "send:\(secret)-9").map(\.scopes) == [[.admin]])
        #expect(throws: APIKey.Malformed.self) { try APIKey.parseAll(["send:\(secret)", "read:\(secret)"], environment: nil) }
    }

    @Test func aKeyDescribesItselfByFingerprintOnly() throws {
        let key = try APIKey(parsing: "read:\(secret)")
        #expect(!key.description.contains(secret) && !String(describing: [key]).contains(secret))
        #expect(key.fingerprint.count == 12 && key.description == "key \(key.fingerprint) (read)")
    }
}
