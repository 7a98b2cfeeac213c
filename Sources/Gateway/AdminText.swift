import APIContract
import Foundation

/// How `gateway admin` shows the HTTP API's answers to people: aligned tables, times in UTC with how long ago (or
/// until), sizes in B, KiB and MiB. Pure: every function takes the clock as `nowMs`, so tests pin it.
enum AdminText {
    typealias Schemas = Components.Schemas

    /// Rows as columns padded to their widest cell, two spaces apart; the last column is not padded.
    static func table(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `field  value` lines, for one object.
    static func fields(_ pairs: [(String, String)]) -> String {
        table(pairs.map { [$0.0, $0.1] })
    }

    /// Unix milliseconds as `2026-12-06 14:05:03Z (3m ago)` or `(in 23h 59m)`.
    static func time(_ ms: Int64, nowMs: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        let stamp = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000)) + "Z"
        let delta = (nowMs - ms) / 1000
        if delta == 0 { return stamp + " (now)" }
        return delta > 0 ? "\(stamp) (\(span(delta)) ago)" : "\(stamp) (in \(span(-delta)))"
    }

    /// Seconds as the two largest units: `45s`, `3m 20s`, `5h 2m`, `12d 3h`.
    static func span(_ seconds: Int64) -> String {
        let units: [(Int64, String)] = [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        guard let first = units.firstIndex(where: { seconds >= $0.0 }) else { return "0s" }
        let (size, name) = units[first]
        var text = "\(seconds / size)\(name)"
        if first + 1 < units.count, case let rest = (seconds % size) / units[first + 1].0, rest > 0 {
            text += " \(rest)\(units[first + 1].1)"
        }
        return text
    }

    /// Bytes as `17 B`, `1.5 KiB`, `2.0 MiB`, `1.1 GiB`.
    static func size(_ bytes: Int) -> String {
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes) / 1024
        for unit in ["KiB", "MiB", "GiB"] {
            if value < 1024 || unit == "GiB" { return String(format: "%.1f %@", value, unit) }
            value /= 1024
        }
        return "\(bytes) B"
    }

    static func device(_ status: Schemas.DeviceStatus, nowMs: Int64) -> String {
        var pairs = [("DEVICE", status.device), ("ONLINE", status.online ? "yes" : "no")]
        if let edge = status.edge { pairs.append(("EDGE", edge)) }
        if let session = status.session { pairs.append(("SESSION", session)) }
        if let since = status.since { pairs.append(("SINCE", time(since, nowMs: nowMs))) }
        pairs.append(("MAILBOX", "\(status.mailbox.count) messages, \(size(status.mailbox.bytes))"))
        if let oldest = status.mailbox.oldest {
            pairs.append(("OLDEST", "\(oldest.id) (service \(oldest.service), seq \(oldest.seq), expires \(time(oldest.expiresAt, nowMs: nowMs)))"))
        }
        return fields(pairs)
    }

    static func mailbox(_ page: Schemas.MailboxPage, nowMs: Int64) -> String {
        guard !page.entries.isEmpty else { return "no messages wait for \(page.device)" }
        var rows = [["SEQ", "ID", "SERVICE", "CONTENT-TYPE", "SIZE", "EXPIRES"]]
        for entry in page.entries {
            rows.append([String(entry.seq), entry.id, entry.service, entry.contentType, size(entry.bytes),
                         time(entry.expiresAt, nowMs: nowMs)])
        }
        var text = table(rows)
        if let next = page.nextAfter { text += "\nmore: --after \(next)" }
        return text
    }

    static func edges(_ edges: [Schemas.EdgeInfo], nowMs: Int64) -> String {
        guard !edges.isEmpty else { return "no edges" }
        var rows = [["EDGE", "STATE", "CONNECTIONS", "ADDRESS", "INSTANCE", "STARTED"]]
        for edge in edges.sorted(by: { $0.id < $1.id }) {
            let state = !edge.alive ? "dead" : edge.draining ? "draining" : "alive"
            rows.append([edge.id, state, edge.connections.map(String.init) ?? "-", edge.address ?? "-", edge.instance ?? "-",
                         edge.startedAt.map { time($0, nowMs: nowMs) } ?? "-"])
        }
        return table(rows)
    }

    static func cluster(_ cluster: Schemas.Cluster, nowMs: Int64) -> String {
        var sections = ["EDGES", edges(cluster.edges, nowMs: nowMs), "", "ROUTERS"]
        if cluster.routers.isEmpty {
            sections.append("no routers")
        } else {
            var rows = [["ROUTER", "STATE", "STARTED"]]
            for router in cluster.routers.sorted(by: { $0.id < $1.id }) {
                rows.append([router.id, router.alive ? "alive" : "dead", router.startedAt.map { time($0, nowMs: nowMs) } ?? "-"])
            }
            sections.append(table(rows))
        }
        sections += ["", "CONSUMER GROUPS"]
        if cluster.consumerGroups.isEmpty {
            sections.append("no consumer groups")
        } else {
            var rows = [["GROUP", "TOPIC", "LAG", "PARTITIONS (partition: committed/end)"]]
            for group in cluster.consumerGroups.sorted(by: { ($0.group, $0.topic) < ($1.group, $1.topic) }) {
                let partitions = group.partitions.sorted { $0.partition < $1.partition }
                    .map { "\($0.partition): \($0.committed)/\($0.end)" }.joined(separator: ", ")
                rows.append([group.group, group.topic, String(group.lag), partitions.isEmpty ? "-" : partitions])
            }
            sections.append(table(rows))
        }
        return sections.joined(separator: "\n")
    }

    static func receipt(_ receipt: Schemas.Receipt, nowMs: Int64) -> String {
        var pairs = [("DEVICE", receipt.device), ("ID", receipt.id), ("SERVICE", receipt.service),
                     ("STATE", receipt.state.rawValue), ("UPDATED", time(receipt.updatedAt, nowMs: nowMs))]
        let times: [(String, Int64?)] = [("STORED", receipt.storedAt), ("DELIVERED", receipt.deliveredAt),
                                          ("ACKED", receipt.ackedAt), ("EXPIRES", receipt.expiresAt)]
        for (name, ms) in times {
            if let ms { pairs.append((name, time(ms, nowMs: nowMs))) }
        }
        if let edge = receipt.edge { pairs.append(("EDGE", edge)) }
        if let reason = receipt.reason { pairs.append(("REASON", reason)) }
        return fields(pairs)
    }
}
