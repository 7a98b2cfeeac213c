#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@_spi(CustomByteBufferAllocator) import NIOCore
import NIOPosix

/// The `ByteBuffer` allocator of TLS connections. A buffer of ``pageBackedMinimum`` bytes or more that is asked for
/// inside ``withPageBacking(_:)`` gets pages of its own (an anonymous `mmap`); every other buffer comes from `malloc`.
///
/// NIOSSL gives each connection, when its handler is added, a 32 KiB plaintext buffer and a 16 KiB ciphertext buffer
/// that it keeps as long as the connection lives; an idle connection writes only their first few hundred bytes. On
/// pages of their own only the pages written become resident, one per buffer (measured); in `malloc`'s heap they
/// start mid-page, their first bytes straddle pages, and some land on pages that earlier allocations had already made
/// resident (2.5 KiB more per connection at 19,000 idle connections; docs/performance.md). Buffers asked for later
/// (copies, growth, messages) stay with `malloc`: a mapping each would cost a `mmap`, page faults and a `munmap` per
/// large message.
///
/// Guarantees: every pointer handed out holds at least the bytes asked for, 16-byte aligned, and is released the way
/// it was allocated, whichever thread frees it; a failed `mmap` falls back to `malloc`.
public enum TLSBufferAllocator {
    /// The smallest request given pages of its own: NIOSSL's record-sized buffers (16 KiB) and up.
    public static let pageBackedMinimum = 16 * 1024

    /// The allocator for a TLS connection's channel (`ChannelOptions.allocator`).
    public static let allocator = ByteBufferAllocator(
        allocate: { size in TLSBufferAllocator.allocate(size) },
        reallocate: { pointer, oldSize, newSize in TLSBufferAllocator.reallocate(pointer, oldSize, newSize) },
        deallocate: { pointer in TLSBufferAllocator.deallocate(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) })

    /// Runs `body` (which adds NIOSSL's handler to a channel using ``allocator``) so that the large buffers it
    /// allocates on this thread get pages of their own.
    public static func withPageBacking<Result>(_ body: () throws -> Result) rethrows -> Result {
        let state = pageBacking.currentValue ?? {
            let fresh = PageBacking()
            pageBacking.currentValue = fresh
            return fresh
        }()
        state.depth += 1
        defer { state.depth -= 1 }
        return try body()
    }

    /// Whether ``withPageBacking(_:)`` is running on this thread.
    private final class PageBacking: @unchecked Sendable {  // only ever touched by its own thread
        var depth = 0
    }
    private static let pageBacking = ThreadSpecificVariable<PageBacking>()

    /// Bytes in front of every block: the length of its mapping, or 0 when it came from `malloc`.
    private static let header = 16
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        if size >= pageBackedMinimum, let state = pageBacking.currentValue, state.depth > 0 {
            let length = (size + header + pageSize - 1) / pageSize * pageSize
            let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            // MAP_FAILED is (void *)-1, a macro Swift does not import.
            if let base, base != UnsafeMutableRawPointer(bitPattern: -1) {
                base.storeBytes(of: length, as: Int.self)
                return base + header
            }
        }
        guard let base = malloc(size + header) else { return nil }
        base.storeBytes(of: 0, as: Int.self)
        return base + header
    }

    static func deallocate(_ pointer: UnsafeMutableRawPointer) {
        let base = pointer - header
        let length = base.load(as: Int.self)
        if length == 0 { free(base) } else { munmap(base, length) }
    }

    static func reallocate(_ pointer: UnsafeMutableRawPointer?, _ oldSize: Int, _ newSize: Int) -> UnsafeMutableRawPointer? {
        guard let pointer else { return allocate(newSize) }
        let base = pointer - header
        if base.load(as: Int.self) == 0 {
            guard let moved = realloc(base, newSize + header) else { return nil }
            return moved + header
        }
        // A mapping is not resized in place: its bytes move to a new block (from malloc, unless page-backing).
        guard let fresh = allocate(newSize) else { return nil }
        fresh.copyMemory(from: pointer, byteCount: min(oldSize, newSize))
        deallocate(pointer)
        return fresh
    }
}
