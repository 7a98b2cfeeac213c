@testable import PushService
import Shared
import Testing

/// The API-key check shared by pushes and publishes.
struct BearerAuthorizationTests {
    @Test func onlyAConfiguredKeyAfterBearerPasses() {
        let keys: Set<String> = ["alpha", "beta-2"]
        #expect(BearerAuthorization.allows("Bearer alpha", keys: keys))
        #expect(BearerAuthorization.allows("Bearer  beta-2\t", keys: keys))
        for header in [nil, "", "Bearer", "Bearer ", "Bearer alph", "Bearer alphaa", "Bearer ALPHA", "bearer alpha", "alpha"] {
            #expect(!BearerAuthorization.allows(header, keys: keys), "\(header ?? "nil")")
        }
        #expect(!BearerAuthorization.allows("Bearer ", keys: [""]), "an empty key never matches")
        #expect(!BearerAuthorization.allows("Bearer alpha", keys: []))
    }

    @Test func equalityLooksAtLengthAndEveryByte() {
        #expect(Secrets.same(Array("abc".utf8), Array("abc".utf8)))
        #expect(Secrets.same([], []))
        #expect(!Secrets.same(Array("abc".utf8), Array("abd".utf8)))
        #expect(!Secrets.same(Array("abc".utf8), Array("abc\u{0}".utf8)), "a zero byte is not padding")
        #expect(!Secrets.same(Array("ab".utf8), Array("abc".utf8)))
        // Lengths 256 apart would agree in their low byte alone.
        #expect(!Secrets.same([], [UInt8](repeating: 0, count: 256)))
    }
}
