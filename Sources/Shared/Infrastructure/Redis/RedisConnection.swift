internal import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
import Lifecycle
#endif

/// One blocking hiredis connection: the only place that touches hiredis pointers.
///
/// Not thread-safe; one thread uses it at a time. Once any call throws, the connection is broken
/// (hiredis leaves the context unusable) and must be dropped; `deinit` frees the context.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects within `endpoint.connectTimeout`, sets the socket timeouts and TCP keep-alive, and sends AUTH
    /// when the endpoint has a password. Every failure is a connection error.
    init(endpoint: RedisEndpoint) throws(RedisError) {
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port),
                                                    Self.socketTime(endpoint.connectTimeout)) else {
            throw .connection("out of memory allocating a hiredis context")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw .connection(message)
        }
        self.context = context
        // Without these a server that accepts but never answers would block the owning thread forever.
        _ = redisSetTimeout(context, Self.socketTime(endpoint.commandTimeout))
        _ = redisEnableKeepAlive(context)
        if let password = endpoint.password {
            let reply = try command([Array("AUTH".utf8), Array(password.utf8)])
            if case .error(let message) = reply { throw .connection("AUTH failed: \(message)") }
        }
    }

    deinit { redisFree(context) }

    /// Queues a command in hiredis' output buffer; nothing is written until `readReply`.
    /// Arguments are passed with explicit lengths, so any bytes (NUL, CR LF) are safe.
    func append(_ args: [[UInt8]]) throws(RedisError) {
        var flat: [UInt8] = []
        flat.reserveCapacity(args.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(args.count)
        lengths.reserveCapacity(args.count)
        for arg in args {
            offsets.append(flat.count)
            lengths.append(arg.count)
            flat.append(contentsOf: arg)
        }
        flat.append(0)  // so the buffer is never empty and every offset points into it
        let status = flat.withUnsafeBufferPointer { bytes -> Int32 in
            let base = UnsafeRawPointer(bytes.baseAddress!)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base.advanced(by: $0).assumingMemoryBound(to: CChar.self) }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    redisAppendCommandArgv(context, Int32(args.count), argvBuffer.baseAddress, lengthBuffer.baseAddress)
                }
            }
        }
        if status != REDIS_OK { throw brokenError() }
    }

    /// Flushes the output buffer if needed and reads the next reply, waiting at most the command timeout.
    func readReply() throws(RedisError) -> RedisValue {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw brokenError() }
        defer { freeReplyObject(raw) }
        return Self.value(of: raw.assumingMemoryBound(to: redisReply.self))
    }

    /// `append` then `readReply`: for one-off commands (AUTH, probes).
    func command(_ args: [[UInt8]]) throws(RedisError) -> RedisValue {
        try append(args)
        return try readReply()
    }

    private func brokenError() -> RedisError {
        let message = Self.errorString(context)
        // hiredis reports a socket timeout as a plain EAGAIN I/O error.
        if context.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK) {
            return .connection("no reply within the command timeout (\(message))")
        }
        return .connection(message.isEmpty ? "unknown hiredis error \(context.pointee.err)" : message)
    }

    private static func value(of reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING: return .bulk(bytes(r))
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(r), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(r), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<r.elements).map { i in r.element[i].map(value(of:)) ?? .null })
        default: return .null  // REDIS_REPLY_NIL; RESP2 has no other types
        }
    }

    private static func bytes(_ r: redisReply) -> [UInt8] {
        guard let str = r.str, r.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: r.len))
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func socketTime(_ duration: Duration) -> timeval {
        let us = duration.inNanoseconds / 1000
        return timeval(tv_sec: .init(us / 1_000_000), tv_usec: .init(us % 1_000_000))
    }
}
