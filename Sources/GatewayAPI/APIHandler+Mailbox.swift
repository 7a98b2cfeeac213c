import APIContract
import ChannelProtocol
import Shared

/// Mailbox list and delete, and receipts (docs/api.md), through ``Mailbox`` and ``ReceiptStore``.
extension APIHandler {
    static let defaultListLimit = 100

    func listMailbox(_ input: Operations.ListMailbox.Input) async throws -> Operations.ListMailbox.Output {
        let device = input.path.device
        if let problem = Self.checked(device: device) { return .badRequest(.because(problem)) }
        let after = input.query.after ?? 0, limit = input.query.limit ?? Self.defaultListLimit
        guard after >= 0 else { return .badRequest(.because("after: a sequence number, 0 or more")) }
        guard (1...Mailbox.maxListLimit).contains(limit) else { return .badRequest(.because("limit: 1 to \(Mailbox.maxListLimit)")) }
        return await answeringRedisFailure("listing a mailbox", Operations.ListMailbox.Output.serviceUnavailable) {
            let page = try await mailbox.list(device: device, after: after, limit: limit)
            return .ok(.init(body: .json(.init(device: device, entries: page.entries.map {
                .init(id: $0.id, seq: $0.seq, service: $0.service, contentType: $0.contentType, bytes: $0.bytes,
                      expiresAt: $0.expiresAtMs)
            }, nextAfter: page.nextAfter))))
        }
    }

    func clearMailbox(_ input: Operations.ClearMailbox.Input) async throws -> Operations.ClearMailbox.Output {
        let device = input.path.device
        if let problem = Self.checked(device: device) { return .badRequest(.because(problem)) }
        return await answeringRedisFailure("deleting a mailbox", Operations.ClearMailbox.Output.serviceUnavailable) {
            return .ok(.init(body: .json(.init(deleted: try await mailbox.deleteAll(device: device)))))
        }
    }

    func deleteMailboxMessage(_ input: Operations.DeleteMailboxMessage.Input) async throws -> Operations.DeleteMailboxMessage.Output {
        let (device, id) = (input.path.device, input.path.id)
        if let problem = Self.checked(device: device) ?? Self.checked(id: id) { return .badRequest(.because(problem)) }
        return await answeringRedisFailure("deleting a message", Operations.DeleteMailboxMessage.Output.serviceUnavailable) {
            guard try await mailbox.delete(device: device, id: id) else {
                return .notFound(.because("no message \(id.prefix(64)) in the mailbox of \(device.prefix(64))"))
            }
            return .ok(.init(body: .json(.init(deleted: 1))))
        }
    }

    func getReceipt(_ input: Operations.GetReceipt.Input) async throws -> Operations.GetReceipt.Output {
        let (device, id) = (input.path.device, input.path.id)
        if let problem = Self.checked(device: device) ?? Self.checked(id: id) { return .badRequest(.because(problem)) }
        return await answeringRedisFailure("reading a receipt", Operations.GetReceipt.Output.serviceUnavailable) {
            guard let receipt = try await receipts.receipt(device: device, id: id),
                  let state = Components.Schemas.Receipt.StatePayload(rawValue: receipt.state.rawValue) else {
                return .notFound(.because("no receipt of message \(id.prefix(64)) to \(device.prefix(64)) (sent without one, or it expired)"))
            }
            return .ok(.init(body: .json(.init(
                device: device, id: id, service: receipt.service, state: state, updatedAt: receipt.updatedAt,
                storedAt: receipt.storedAt, deliveredAt: receipt.deliveredAt, ackedAt: receipt.ackedAt,
                expiresAt: receipt.expiresAt, edge: receipt.edge, reason: receipt.reason))))
        }
    }

    /// The 400 message for a message id that breaks the protocol's id rule, or nil.
    static func checked(id: String) -> String? {
        (try? FieldRules.checkMessageID(id)) == nil ? "id: not a message id (1 to 128 bytes, no control characters)" : nil
    }
}
