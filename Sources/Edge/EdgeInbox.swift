import ChannelProtocol
import Logging
import Shared

/// Delivers what the router puts on this edge's inbox topic to the devices connected here.
///
/// Runs on the inbox consumer's own thread; each delivery is a lookup in ``ConnectedDevices`` and a write on the
/// device's event loop. A record for a device that is no longer here is counted and dropped: the router found it
/// here a moment ago, and the store-and-forward mailbox is what makes such messages survive.
final class EdgeInbox: @unchecked Sendable {
    private let devices: ConnectedDevices
    private let logger: Logger
    private(set) var delivered = 0
    private(set) var notHere = 0

    init(devices: ConnectedDevices, logger: Logger) {
        self.devices = devices
        self.logger = logger
    }

    func deliver(_ records: [KafkaRecord]) {
        for record in records {
            guard let key = record.key, let connection = devices.find(String(decoding: key, as: UTF8.self)) else {
                notHere += 1
                logger.info("inbox: device \(record.key.map { String(decoding: $0, as: UTF8.self) } ?? "?") is not connected here; message dropped")
                continue
            }
            guard let service = record.headerString(RecordHeader.service),
                  let id = record.headerString(RecordHeader.messageID) else {
                logger.warning("inbox: record at \(record.topic)/\(record.partition)@\(record.offset) lacks service or id; dropped")
                continue
            }
            let payload = Payload.from(bytes: record.value, contentType: record.headerString(RecordHeader.contentType))
            connection.channel.send(.msg(Message(service: service, id: id, payload: payload)))
            delivered += 1
        }
    }
}
