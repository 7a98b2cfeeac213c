import ChannelProtocol
import Logging
import Shared

/// Hands what the router puts on this edge's inbox topic to the connections it is for.
///
/// Runs on the inbox consumer's own thread; each record costs a lookup in ``ConnectedDevices`` and a hop to the
/// device's event loop, where its connection decides (``DeliveryWindow``) whether to write it now or read its mailbox.
/// A notice for a device that is no longer here is dropped: the message is in the device's mailbox, which it drains
/// wherever it connects next.
final class EdgeInbox: @unchecked Sendable {
    private let devices: ConnectedDevices
    private let logger: Logger

    init(devices: ConnectedDevices, logger: Logger) {
        self.devices = devices
        self.logger = logger
    }

    func deliver(_ records: [KafkaRecord]) {
        for record in records {
            guard let inboxRecord = InboxRecord(record) else {
                logger.warning("inbox: record at \(record.topic)/\(record.partition)@\(record.offset) is neither a notice nor a takeover; dropped")
                continue
            }
            switch inboxRecord {
            case .notice(let device, let entry):
                guard let connection = devices.find(device) else {
                    logger.debug("inbox: device \(device) is not connected here; message \(entry.id) stays in its mailbox")
                    continue
                }
                connection.channel.eventLoop.execute { connection.handler.value.notice(entry) }
            case .takeover(let device, let session):
                guard let connection = devices.find(device), connection.session == session else { continue }
                connection.channel.eventLoop.execute { connection.handler.value.replaced(session: session) }
            }
        }
    }
}
