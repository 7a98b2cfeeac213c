import APIContract
import ArgumentParser
import Foundation
import Shared

/// `gateway admin`: the operator's view of a running cluster through the HTTP API (docs/api.md): devices, mailboxes,
/// receipts, disconnects, edges, drains and the cluster's lag. It calls the API only, never Redis or Kafka.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Look at and act on a running cluster through its HTTP API (gateway api).",
        discussion: """
            Tables for people; --json prints the API's JSON as it answered. Pass the key in CG_API_KEY rather than \
            --api-key, which other users can see in the process list. Exit status: 0 done; 1 the API answered with an \
            error (its code and message are printed); 64 bad arguments; 69 the API cannot be reached.
            """,
        subcommands: [Devices.self, Mailbox.self, Disconnect.self, Edges.self, Drain.self, Receipt.self, Cluster.self])

    /// Exit status when the API answers with an error.
    static let apiError = ExitCode(1)
    /// Exit status when the API cannot be reached (EX_UNAVAILABLE).
    static let unreachable = ExitCode(69)

    /// Where the API is, its key, and the output form; every subcommand takes them.
    struct Options: ParsableArguments {
        @Option(name: .customLong("api"), help: "The HTTP API's address (env CG_API_URL; default the dev cluster's, http://127.0.0.1:8095).")
        var url: String = Settings.string("CG_API_URL") ?? "http://127.0.0.1:8095"

        @Option(name: .customLong("api-key"),
                help: "The API key (env CG_API_KEY; prefer the environment: a flag shows in the process list). Never printed.")
        var key: String?

        @Flag(help: "Print the API's JSON as it answered instead of a table.")
        var json = false

        func validate() throws {
            guard let url = URL(string: url), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--api: expected an address like http://127.0.0.1:8095")
            }
        }

        var api: AdminAPI {
            AdminAPI(url: URL(string: url)!, key: key ?? Settings.string("CG_API_KEY"))
        }

        /// Calls the API, then prints the raw JSON or `table(output)`; API errors and unreachable APIs end the command
        /// with their exit status.
        func run<Output: Sendable>(_ operation: (Client) async throws -> Output, table: (Output) throws(AdminAPI.Failure) -> String) async throws {
            let api = self.api
            do {
                let output = try await api.call(operation)
                let text = try table(output)
                Console.say(json ? String(decoding: api.lastBody, as: UTF8.self) : text)
            } catch {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                if case .unreachable = error { throw AdminCommand.unreachable }
                throw AdminCommand.apiError
            }
        }
    }

    /// The clock the tables count from, Unix ms.
    static var nowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The typed answer a 2xx carries, or ``AdminAPI/Failure/unexpected(_:)`` when the generated client found another.
    static func unexpected<T>(_ value: T?, _ what: String) throws(AdminAPI.Failure) -> T {
        guard let value else { throw .unexpected("no \(what) in the answer") }
        return value
    }

    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show devices.", subcommands: [Show.self], defaultSubcommand: Show.self)

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "A device's connection and mailbox (GET /v1/devices/{device}).")
            @Argument(help: "The device id.") var device: String
            @OptionGroup var options: Options

            func run() async throws {
                try await options.run({ try await $0.getDevice(path: .init(device: device)) }) { output throws(AdminAPI.Failure) in
                    AdminText.device(try unexpected(try? output.ok.body.json, "device"), nowMs: nowMs)
                }
            }
        }
    }

    struct Mailbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a device's waiting messages, or delete them.", subcommands: [List.self, Delete.self], defaultSubcommand: List.self)

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The messages waiting for a device, oldest first (GET /v1/devices/{device}/mailbox).")
            @Argument(help: "The device id.") var device: String
            @Option(help: "Only messages with a larger sequence number (the `more: --after N` of the previous page).") var after: Int64?
            @Option(help: "At most this many, 1 to 1000 (the API's default: 100).") var limit: Int?
            @OptionGroup var options: Options

            func validate() throws {
                if let after, after < 0 { throw ValidationError("--after: 0 or more") }
                if let limit, !(1...Shared.Mailbox.maxListLimit).contains(limit) { throw ValidationError("--limit: 1 to \(Shared.Mailbox.maxListLimit)") }
            }

            func run() async throws {
                try await options.run({ try await $0.listMailbox(path: .init(device: device), query: .init(after: after, limit: limit)) }) {
                    output throws(AdminAPI.Failure) in
                    AdminText.mailbox(try unexpected(try? output.ok.body.json, "mailbox page"), nowMs: nowMs)
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete one waiting message, or with no message id every one (DELETE /v1/devices/{device}/mailbox[/{id}]).")
            @Argument(help: "The device id.") var device: String
            @Argument(help: "The message id; without it, every waiting message of the device.") var message: String?
            @OptionGroup var options: Options

            func run() async throws {
                if let message {
                    try await options.run({ try await $0.deleteMailboxMessage(path: .init(device: device, id: message)) }) {
                        output throws(AdminAPI.Failure) in
                        let deleted = try unexpected(try? output.ok.body.json, "count").deleted
                        return "deleted \(deleted) message (\(message)) from the mailbox of \(device)"
                    }
                } else {
                    try await options.run({ try await $0.clearMailbox(path: .init(device: device)) }) { output throws(AdminAPI.Failure) in
                        let deleted = try unexpected(try? output.ok.body.json, "count").deleted
                        return "deleted \(deleted) message\(deleted == 1 ? "" : "s") from the mailbox of \(device)"
                    }
                }
            }
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a device's connection (POST /v1/devices/{device}/disconnect).")
        @Argument(help: "The device id.") var device: String
        @Option(help: "The WebSocket close code the device gets (the API's default: 4010; the API says which it accepts).") var code: Int?
        @Option(help: "Ask the device to wait this long before reconnecting, 0 to 3600000 ms.") var reconnectAfterMs: Int?
        @OptionGroup var options: Options

        func validate() throws {
            if let reconnectAfterMs, !EdgeControl.reconnectDelays.contains(reconnectAfterMs) {
                throw ValidationError("--reconnect-after-ms: 0 to \(EdgeControl.reconnectDelays.upperBound)")
            }
        }

        func run() async throws {
            let body = Components.Schemas.DisconnectRequest(code: code, reconnectAfterMs: reconnectAfterMs)
            try await options.run({ try await $0.disconnectDevice(path: .init(device: device), body: .json(body)) }) {
                output throws(AdminAPI.Failure) in
                let done = try unexpected(try? output.ok.body.json, "disconnect")
                return "disconnected \(done.device) (session \(done.session) on edge \(done.edge))"
            }
        }
    }

    struct Edges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The edges of the cluster (GET /v1/edges).")
        @OptionGroup var options: Options

        func run() async throws {
            try await options.run({ try await $0.listEdges() }) { output throws(AdminAPI.Failure) in
                AdminText.edges(try unexpected(try? output.ok.body.json, "edges").edges, nowMs: nowMs)
            }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain an edge: it stops accepting connections and moves its devices away (POST /v1/edges/{edge}/drain).")
        @Argument(help: "The edge id.") var edge: String
        @OptionGroup var options: Options

        func run() async throws {
            try await options.run({ try await $0.drainEdge(path: .init(edge: edge)) }) { output throws(AdminAPI.Failure) in
                "edge \(try unexpected(try? output.accepted.body.json, "drain").edge) is draining"
            }
        }
    }

    struct Receipt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What happened to a message sent with a receipt (GET /v1/devices/{device}/messages/{id}).")
        @Argument(help: "The device id.") var device: String
        @Argument(help: "The message id, as the send answered it.") var id: String
        @OptionGroup var options: Options

        func run() async throws {
            try await options.run({ try await $0.getReceipt(path: .init(device: device, id: id)) }) { output throws(AdminAPI.Failure) in
                AdminText.receipt(try unexpected(try? output.ok.body.json, "receipt"), nowMs: nowMs)
            }
        }
    }

    struct Cluster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Edges, routers and consumer lag (GET /v1/cluster).")
        @OptionGroup var options: Options

        func run() async throws {
            try await options.run({ try await $0.getCluster() }) { output throws(AdminAPI.Failure) in
                AdminText.cluster(try unexpected(try? output.ok.body.json, "cluster"), nowMs: nowMs)
            }
        }
    }
}
