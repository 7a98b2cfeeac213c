import ChannelProtocol
import ServiceKit

/// Answers what devices send to service `push`: subscribe, unsubscribe, list (docs/push.md, "Device side").
///
/// Runs on the channel service's consumer thread, so it uses the blocking Redis API. Guarantees: every device message
/// gets exactly one reply, id `push-<message id>` (``PushMessages/replyID(for:)``), sent with `in-reply-to`; a bad
/// request gets a `bad_request` error reply; a Redis failure throws, so the SDK handles the batch again (and a repeated
/// subscribe returns the same subscription, thanks to the request memo).
struct PushDeviceHandler: Sendable {
    let store: SubscriptionStore
    /// The public base URL of the HTTP API, for the `endpoint` of subscriptions.
    let publicURL: String

    func handle(_ message: DeviceMessage, outbox: inout Outbox) throws {
        let reply: JSONBody
        switch DeviceOp.parse(message.payload) {
        case .failure(let error):
            reply = PushMessages.error(code: "bad_request", message: error.message)
        case .success(.subscribe(let label, let expires)):
            do {
                let info = try store.subscribe(device: message.device, messageID: message.id, label: label, expiresSeconds: expires)
                reply = PushMessages.subscribed(info, base: publicURL)
            } catch is SubscriptionStore.TooMany {
                reply = PushMessages.error(code: "too_many",
                                           message: "a device may hold at most \(SubscriptionStore.maxPerDevice) live subscriptions; unsubscribe one first")
            }
        case .success(.unsubscribe(let subscription)):
            if SubscriptionID.isWellFormed(subscription),
               try store.unsubscribe(device: message.device, subscription: subscription) {
                reply = PushMessages.unsubscribed(subscription)
            } else {
                reply = PushMessages.error(code: "not_found", message: "no subscription \(subscription.prefix(64)) of this device")
            }
        case .success(.list):
            reply = PushMessages.subscriptions(try store.list(device: message.device), base: publicURL)
        }
        outbox.reply(to: message, id: PushMessages.replyID(for: message.id), payload: .json(reply.bytes))
    }
}
