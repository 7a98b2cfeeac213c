import Logging
import Metrics
import ServiceLifecycle
import Shared

/// Reports how many messages wait in all mailboxes (`cg_mailbox_messages`) every 5 s, until the group shuts down.
struct MailboxDepthSampler: Service {
    let mailbox: Mailbox
    let gauge: Gauge
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { gauge.record(try await mailbox.totalEntries()) } catch {
                    logger.debug("cannot read the mailbox depth: \(error)")
                }
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }
}
