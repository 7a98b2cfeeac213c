import Infrastructure
import NIOCore

extension Mailbox {
    /// Marks the receipts of `items` `delivered` by `edge` (their notices were acked by it), in one pipeline of one
    /// script call per receipt. A receipt that is missing, already delivered or final is left alone (docs/redis-schema.md,
    /// "Receipts"). The future, on `eventLoop`, never fails: per item, whether this call moved its receipt (false too
    /// when its call failed), so the caller reports each `delivered` once.
    public func markDelivered(_ items: [(device: String, id: String)], edge: String,
                              on eventLoop: any EventLoop) -> EventLoopFuture<[Bool]> {
        guard !items.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        let promise = eventLoop.makePromise(of: [Bool].self)
        let edgeBytes = Array(edge.utf8)
        redis.run(ReceiptScripts.delivered, byteInvocations: items.map {
            RedisScript.ByteInvocation(keys: [Array(names.receipt(device: $0.device, id: $0.id).utf8)], args: [edgeBytes])
        }) { replies in
            promise.succeed(replies.map { (try? $0.get().int) == 1 })
        }
        return promise.futureResult
    }
}
