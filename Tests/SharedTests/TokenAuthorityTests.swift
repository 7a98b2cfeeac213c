import Foundation
import JWTKit
import Testing
@testable import Shared

/// Device tokens: who may act as which device, and with which keys.
@Suite struct TokenAuthorityTests {
    let secretA = String(repeating: "a", count: 32)
    let secretB = String(repeating: "b", count: 40)

    func refusal(_ authority: TokenAuthority, _ token: String, device: String = "d-1") async -> String? {
        do {
            _ = try await authority.verify(token, device: device)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func hs256RoundTripNamesDeviceServicesAndExpiry() async throws {
        let authority = try await TokenAuthority(keys: [TokenKey(kid: "k1", material: .hs256(secret: secretA))])
        let token = try await authority.mint(device: "d-1", services: ["echo", "push"], ttl: .seconds(60))
        let grant = try await authority.verify(token, device: "d-1")
        #expect(grant.device == "d-1" && grant.services == ["echo", "push"])
        #expect(grant.allows("echo") && !grant.allows("presence"))
        #expect(await refusal(authority, token, device: "d-2") == "token is for another device")
    }

    @Test func es256VerifiesWithThePublicKeyAlone() async throws {
        let privateKey = ES256PrivateKey()
        let minter = try await TokenAuthority(keys: [TokenKey(kid: "ec1", material: .es256(publicKeyPEM: nil, privateKeyPEM: privateKey.pemRepresentation))])
        let edge = try await TokenAuthority(keys: [TokenKey(kid: "ec1", material: .es256(publicKeyPEM: privateKey.publicKey.pemRepresentation, privateKeyPEM: nil))])
        let token = try await minter.mint(device: "d-1", services: ["*"], ttl: .seconds(60))
        #expect(try await edge.verify(token, device: "d-1").allows("anything"))
        await #expect(throws: TokenError.self) { try await edge.mint(device: "d-1", services: [], ttl: .seconds(60)) }
    }

    @Test func rotationTrustsOldAndNewKeysByKid() async throws {
        let old = try await TokenAuthority(keys: [TokenKey(kid: "old", material: .hs256(secret: secretA))])
        let new = try await TokenAuthority(keys: [TokenKey(kid: "new", material: .hs256(secret: secretB))])
        let both = try await TokenAuthority(keys: [TokenKey(kid: "new", material: .hs256(secret: secretB)),
                                                   TokenKey(kid: "old", material: .hs256(secret: secretA))])
        let oldToken = try await old.mint(device: "d-1", services: [], ttl: .seconds(60))
        let newToken = try await new.mint(device: "d-1", services: [], ttl: .seconds(60))
        _ = try await both.verify(oldToken, device: "d-1")
        _ = try await both.verify(newToken, device: "d-1")
        let retired = await refusal(new, oldToken)
        #expect(retired != nil, "a retired key is no longer trusted")
    }

    @Test func refusesForgedExpiredEarlyAndForeignTokens() async throws {
        let authority = try await TokenAuthority(keys: [TokenKey(kid: "k1", material: .hs256(secret: secretA))])
        let forger = try await TokenAuthority(keys: [TokenKey(kid: "k1", material: .hs256(secret: secretB))])
        #expect(await refusal(authority, try await forger.mint(device: "d-1", services: ["*"], ttl: .seconds(60))) == "token signature invalid")
        let expired = try await authority.mint(device: "d-1", services: ["*"], ttl: .seconds(1), notBefore: Date().addingTimeInterval(-10))
        #expect(await refusal(authority, expired) == "token expired")
        let early = try await authority.mint(device: "d-1", services: ["*"], ttl: .seconds(60), notBefore: Date().addingTimeInterval(3600))
        #expect(await refusal(authority, early) == "token not valid yet")
        let foreign = try await authority.mint(device: "d-1", services: ["*"], ttl: .seconds(60), audience: "another-gateway")
        #expect(await refusal(authority, foreign) == "token is for another audience")
        #expect(await refusal(authority, "") == "missing token")
        #expect(await refusal(authority, "not.a.token") == "token malformed")
        #expect(await refusal(authority, String(repeating: "x", count: 100_000)) == "token too long")

        // alg "none": the same claims, unsigned.
        let good = try await authority.mint(device: "d-1", services: ["*"], ttl: .seconds(60))
        let payload = good.split(separator: ".")[1]
        let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        #expect(await refusal(authority, "\(none).\(payload).") != nil)
        // A payload edited to another device keeps the old signature: refused.
        let parts = good.split(separator: ".").map(String.init)
        let forgedPayload = Data(#"{"sub":"d-2","aud":["channel-gateway"],"iat":1,"exp":9999999999,"services":["*"]}"#.utf8)
            .base64EncodedString().replacingOccurrences(of: "=", with: "")
        #expect(await refusal(authority, "\(parts[0]).\(forgedPayload).\(parts[2])", device: "d-2") != nil)
    }

    @Test func keySetFileIsReadAndBadOnesAreExplained() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ec = ES256PrivateKey()
        try ec.publicKey.pemRepresentation.write(to: dir.appendingPathComponent("ec.pub.pem"), atomically: true, encoding: .utf8)
        let file = dir.appendingPathComponent("keys.json").path
        try #"{"keys":[{"kid":"h1","alg":"HS256","secret":"\#(secretA)"},{"kid":"e1","alg":"ES256","publicKeyFile":"ec.pub.pem"}]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let keys = try TokenKey.load(file: file)
        #expect(keys.map(\.kid) == ["h1", "e1"])
        let edge = try await TokenAuthority(keys: keys)
        let ecMinter = try await TokenAuthority(keys: [TokenKey(kid: "e1", material: .es256(publicKeyPEM: nil, privateKeyPEM: ec.pemRepresentation))])
        _ = try await edge.verify(try await ecMinter.mint(device: "d-1", services: [], ttl: .seconds(60)), device: "d-1")

        try #"{"keys":[{"kid":"x","alg":"RS256"}]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: TokenError.self) { try TokenKey.load(file: file) }
        do { _ = try await TokenAuthority(keys: [TokenKey(kid: "short", material: .hs256(secret: "short"))]) } catch {
            #expect(error.message.contains("at least 32 bytes") && !error.message.contains("short\""))
        }
    }
}
