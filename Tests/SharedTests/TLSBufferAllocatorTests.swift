import Foundation
import NIOCore
import Testing
@testable import Infrastructure

/// The TLS connections' allocator (docs/performance.md, "TLS"): large buffers asked for while NIOSSL's handler is
/// added get pages of their own, everything else comes from `malloc`, and every block keeps its bytes and is released
/// the way it was made, whatever the thread.
@Suite struct TLSBufferAllocatorTests {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Whether `pointer` is the 16th byte of a page, as a mapped block's user bytes are.
    static func startsAPage(_ pointer: UnsafeMutableRawPointer) -> Bool {
        (Int(bitPattern: pointer) - 16) % pageSize == 0
    }

    @Test func largeBuffersInsidePageBackingGetPagesOfTheirOwnAndOthersDoNot() throws {
        let mapped = try #require(TLSBufferAllocator.withPageBacking { TLSBufferAllocator.allocate(32 * 1024) })
        let small = try #require(TLSBufferAllocator.withPageBacking { TLSBufferAllocator.allocate(1024) })
        let outside = try #require(TLSBufferAllocator.allocate(32 * 1024))
        #expect(Self.startsAPage(mapped))
        for pointer in [mapped, small, outside] {
            #expect(Int(bitPattern: pointer) % 16 == 0, "16-byte aligned")
        }
        // Every byte asked for is writable and keeps its value.
        mapped.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 32 * 1024)
        #expect(mapped.load(fromByteOffset: 32 * 1024 - 1, as: UInt8.self) == 0xA5)
        for pointer in [mapped, small, outside] { TLSBufferAllocator.deallocate(pointer) }
    }

    @Test func reallocatingAMappedBlockKeepsItsBytes() throws {
        let mapped = try #require(TLSBufferAllocator.withPageBacking { TLSBufferAllocator.allocate(16 * 1024) })
        for offset in 0..<(16 * 1024) { mapped.storeBytes(of: UInt8(truncatingIfNeeded: offset), toByteOffset: offset, as: UInt8.self) }
        let grown = try #require(TLSBufferAllocator.reallocate(mapped, 16 * 1024, 64 * 1024))
        let shrunk = try #require(TLSBufferAllocator.reallocate(grown, 64 * 1024, 100))
        for offset in 0..<100 {
            #expect(shrunk.load(fromByteOffset: offset, as: UInt8.self) == UInt8(truncatingIfNeeded: offset))
        }
        let fresh = try #require(TLSBufferAllocator.reallocate(nil, 0, 64))
        TLSBufferAllocator.deallocate(shrunk)
        TLSBufferAllocator.deallocate(fresh)
    }

    /// NIOSSL's buffers are made on the connection's event loop and freed wherever the last reference goes.
    @Test func blocksAreFreedFromAnotherThread() async throws {
        let blocks = (0..<64).map { index in
            TLSBufferAllocator.withPageBacking { TLSBufferAllocator.allocate(index.isMultiple(of: 2) ? 32 * 1024 : 512) }
        }.compactMap { $0.map { Int(bitPattern: $0) } }
        #expect(blocks.count == 64)
        await Task.detached {
            for address in blocks { TLSBufferAllocator.deallocate(UnsafeMutableRawPointer(bitPattern: address)!) }
        }.value
    }

    @Test func aByteBufferFromTheAllocatorBehavesLikeAnyOther() {
        var buffer = TLSBufferAllocator.withPageBacking { TLSBufferAllocator.allocator.buffer(capacity: 20_000) }
        buffer.writeString(String(repeating: "x", count: 50_000))   // grows past the mapping
        #expect(buffer.readableBytes == 50_000)
        #expect(buffer.readString(length: 3) == "xxx")
    }
}
