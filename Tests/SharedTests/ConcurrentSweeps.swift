import Lifecycle
@testable import Shared

/// Runs `sweepers` at once (as routers would), each on a thread of its own sweeping `limit` entries at a time until a
/// sweep comes back short; returns what each took, as `<device>|<entry>` with `describe` naming the entry.
func sweepAtOnce(_ sweepers: [Mailbox], limit: Int,
                 describe: @escaping @Sendable (MailboxEntry) -> String) async throws -> [[String]] {
    try await withThrowingTaskGroup(of: [String].self) { group in
        for sweeper in sweepers {
            group.addTask {
                try await offload {
                    var all: [String] = []
                    while true {
                        let batch = try sweeper.sweepExpiredBlocking(limit: limit)
                        all += batch.map { "\($0.device)|\(describe($0.entry))" }
                        if batch.count < limit { return all }
                    }
                }
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}
