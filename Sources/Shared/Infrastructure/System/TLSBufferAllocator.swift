internal import CSystemCalls
@_spi(CustomByteBufferAllocator) import NIOCore

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
    public static let pageBackedMinimum = Int(CG_PAGE_BACKED_MINIMUM)

    /// The allocator for a TLS connection's channel (`ChannelOptions.allocator`). The blocks come from C
    /// (Sources/CSystemCalls/tls_buffers.c), so no raw pointer is handled in Swift.
    public static let allocator = ByteBufferAllocator(
        allocate: cg_buffer_allocate, reallocate: cg_buffer_reallocate, deallocate: cg_buffer_free, copy: cg_buffer_copy)

    /// Runs `body` (which adds NIOSSL's handler to a channel using ``allocator``) so that the large buffers it
    /// allocates on this thread get pages of their own.
    public static func withPageBacking<Result>(_ body: () throws -> Result) rethrows -> Result {
        cg_page_backing_enter()
        defer { cg_page_backing_leave() }
        return try body()
    }

    // The allocator's three functions, by name, for its tests.
    static let allocate = cg_buffer_allocate
    static let reallocate = cg_buffer_reallocate
    static let deallocate = cg_buffer_free
}
