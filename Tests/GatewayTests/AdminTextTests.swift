import APIContract
@testable import Gateway
import Testing

/// `gateway admin`'s tables: columns aligned, times in UTC with how long ago, sizes in binary units, every field the
/// API gave shown and the absent ones left out.
@Suite struct AdminTextTests {
    typealias Schemas = Components.Schemas
    /// 2026-12-06 12:00:00 UTC.
    let now: Int64 = 1_796_558_400_000

    @Test func tableAlignsColumnsAndLeavesTheLastUnpadded() {
        #expect(AdminText.table([["A", "BBB", "C"], ["DDDD", "E", "F"]]) == "A     BBB  C\nDDDD  E    F")
    }

    @Test func sizesInBinaryUnits() {
        #expect(AdminText.size(0) == "0 B")
        #expect(AdminText.size(1023) == "1023 B")
        #expect(AdminText.size(1536) == "1.5 KiB")
        #expect(AdminText.size(1_048_576) == "1.0 MiB")
        #expect(AdminText.size(3 << 30) == "3.0 GiB")
    }

    @Test func timesSayHowLongAgoOrUntil() {
        #expect(AdminText.time(now, nowMs: now) == "2026-12-06 12:00:00Z (now)")
        #expect(AdminText.time(now - 200_000, nowMs: now) == "2026-12-06 11:56:40Z (3m 20s ago)")
        #expect(AdminText.time(now + 86_400_000, nowMs: now) == "2026-12-07 12:00:00Z (in 1d)")
        #expect(AdminText.span(45) == "45s")
        #expect(AdminText.span(3600 * 5 + 120) == "5h 2m")
        #expect(AdminText.span(86400 * 12 + 3600 * 3 + 7) == "12d 3h")
    }

    @Test func deviceShowsConnectionAndMailbox() {
        let online = Schemas.DeviceStatus(
            device: "d-1", online: true, edge: "edge-a", session: "s-1", since: now - 5000,
            mailbox: .init(count: 2, bytes: 2048, oldest: .init(id: "m-1", service: "echo", seq: 4, expiresAt: now + 3_600_000)))
        #expect(AdminText.device(online, nowMs: now) == """
            DEVICE   d-1
            ONLINE   yes
            EDGE     edge-a
            SESSION  s-1
            SINCE    2026-12-06 11:59:55Z (5s ago)
            MAILBOX  2 messages, 2.0 KiB
            OLDEST   m-1 (service echo, seq 4, expires 2026-12-06 13:00:00Z (in 1h))
            """)
        let offline = Schemas.DeviceStatus(device: "d-2", online: false, mailbox: .init(count: 0, bytes: 0))
        #expect(AdminText.device(offline, nowMs: now) == "DEVICE   d-2\nONLINE   no\nMAILBOX  0 messages, 0 B")
    }

    @Test func mailboxListsEntriesAndTheNextPage() {
        let page = Schemas.MailboxPage(device: "d-1", entries: [
            .init(id: "m-1", seq: 4, service: "echo", contentType: "application/json", bytes: 17, expiresAt: now + 60_000),
            .init(id: "message-22", seq: 10, service: "push", contentType: "application/octet-stream", bytes: 4096, expiresAt: now + 120_000),
        ], nextAfter: 10)
        #expect(AdminText.mailbox(page, nowMs: now) == """
            SEQ  ID          SERVICE  CONTENT-TYPE              SIZE     EXPIRES
            4    m-1         echo     application/json          17 B     2026-12-06 12:01:00Z (in 1m)
            10   message-22  push     application/octet-stream  4.0 KiB  2026-12-06 12:02:00Z (in 2m)
            more: --after 10
            """)
        #expect(AdminText.mailbox(.init(device: "d-9", entries: []), nowMs: now) == "no messages wait for d-9")
    }

    @Test func edgesSortedWithTheirState() {
        let edges: [Schemas.EdgeInfo] = [
            .init(id: "edge-b", instance: "9a", address: "10.0.0.6:7001", connections: 12, alive: true, startedAt: now - 7_200_000, draining: true),
            .init(id: "edge-a", alive: false, draining: false),
        ]
        #expect(AdminText.edges(edges, nowMs: now) == """
            EDGE    STATE     CONNECTIONS  ADDRESS        INSTANCE  STARTED
            edge-a  dead      -            -              -         -
            edge-b  draining  12           10.0.0.6:7001  9a        2026-12-06 10:00:00Z (2h ago)
            """)
        #expect(AdminText.edges([], nowMs: now) == "no edges")
    }

    @Test func clusterHasEdgesRoutersAndLag() {
        let cluster = Schemas.Cluster(
            edges: [], routers: [.init(id: "router-1", alive: true, startedAt: now - 1000)],
            consumerGroups: [.init(group: "cg-router", topic: "cg.down", lag: 3, partitions: [
                .init(partition: 1, committed: 5, end: 8, lag: 3), .init(partition: 0, committed: 10, end: 10, lag: 0),
            ])])
        #expect(AdminText.cluster(cluster, nowMs: now) == """
            EDGES
            no edges

            ROUTERS
            ROUTER    STATE  STARTED
            router-1  alive  2026-12-06 11:59:59Z (1s ago)

            CONSUMER GROUPS
            GROUP      TOPIC    LAG  PARTITIONS (partition: committed/end)
            cg-router  cg.down  3    0: 10/10, 1: 5/8
            """)
    }

    @Test func receiptShowsOnlyTheTimesItHas() {
        let receipt = Schemas.Receipt(device: "d-1", id: "m-1", service: "echo", state: .acked, updatedAt: now - 1000,
                                      storedAt: now - 3000, ackedAt: now - 1000, edge: "edge-a")
        #expect(AdminText.receipt(receipt, nowMs: now) == """
            DEVICE   d-1
            ID       m-1
            SERVICE  echo
            STATE    acked
            UPDATED  2026-12-06 11:59:59Z (1s ago)
            STORED   2026-12-06 11:59:57Z (3s ago)
            ACKED    2026-12-06 11:59:59Z (1s ago)
            EDGE     edge-a
            """)
    }

    @Test func apiErrorsCarryTheAPIsCodeAndMessage() {
        let failure = AdminAPI.failure(status: 404, body: Array(#"{"error":"not_found","message":"no message m-9"}"#.utf8))
        #expect(failure.description == "error: not_found: no message m-9 (HTTP 404)")
        let other = AdminAPI.failure(status: 502, body: Array("bad gateway".utf8))
        #expect(other.description == "error: http_502: bad gateway (HTTP 502)")
    }
}
