@testable import ChannelClient
import DevCluster
import Foundation
import Lifecycle
import Shared
import Testing

/// The edge over `wss://` with an independent client (Python's `ssl` and `websockets`, Tests/edge-probe/ws_probe.py)
/// that verifies the edge's certificate; certificate reload on SIGHUP; no plain `ws://` unless asked for; and our own
/// ``DeviceClient`` and ``PersistentDevice`` over `wss://`.
/// Keys are made with `openssl` in a temporary directory at test time and never committed.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct TLSTests {
    @Test func wssRoundTripThenReloadServesNewConnectionsTheNewCertificateAndKeepsOpenOnes() async throws {
        let dir = try EdgeProbe.temporaryDirectory("tls")
        let cert = "\(dir)/cert.pem", key = "\(dir)/key.pem"
        let first = try await Certificate.make(in: dir, name: "first", commonName: "localhost")
        try first.install(cert: cert, key: key)

        var options = LocalCluster.Options(gatewayExecutable: TestCluster.gatewayExecutable)
        options.edges = 1
        options.edgeTLS = .init(certificate: cert, key: key)
        options.logDirectory = "\(dir)/logs"
        let cluster = LocalCluster(options: options)
        defer { cluster.stop() }
        try await offload { try cluster.start() }
        let url = cluster.edgeURL(0)
        let edge = cluster.edges[0].process
        #expect(url.hasPrefix("wss://"))
        #expect(try await edge.line(containing: "edge ready").contains("wss://127.0.0.1:"))

        // A connection made before the reload, kept open across it.
        let go = "\(dir)/go"
        let old = try await EdgeProbe.session(url: url, ca: first.cert, device: TestCluster.uniqueDevice("tls-old"), holdUntil: go)
        defer { old.stop(grace: 1) }
        #expect(try await EdgeProbe.serial(old) == first.serial)
        try await old.line(containing: "round trip ok", timeout: 30)

        // Another certificate (new key, serial and CN) in place of the first, then SIGHUP.
        let second = try await Certificate.make(in: dir, name: "second", commonName: "localhost-2")
        #expect(second.serial != first.serial)
        try second.install(cert: cert, key: key)
        edge.signal(SIGHUP)
        try await edge.line(containing: "TLS: reloaded", timeout: 10)

        let fresh = try await EdgeProbe.session(url: url, ca: second.cert, device: TestCluster.uniqueDevice("tls-new"))
        defer { fresh.stop(grace: 1) }
        #expect(try await EdgeProbe.serial(fresh) == second.serial, "a new connection gets the new certificate")
        try await fresh.line(containing: "round trip ok", timeout: 30)

        // The old connection still sends and receives, with the old certificate.
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        try await old.line(containing: "second round trip ok", timeout: 30)
        await old.exit(within: 10)
        #expect(old.stop() == 0, "\(old.recentOutput)")

        // A bad file is refused and the second certificate stays in use.
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: cert))
        edge.signal(SIGHUP)
        try await edge.line(containing: "TLS: reload failed, keeping the current certificate", timeout: 10)
        let after = try await EdgeProbe.session(url: url, ca: second.cert, device: TestCluster.uniqueDevice("tls-after"))
        defer { after.stop(grace: 1) }
        #expect(try await EdgeProbe.serial(after) == second.serial)
        try await after.line(containing: "round trip ok", timeout: 30)
        #expect(edge.isRunning)
    }

    @Test func deviceClientOverWSSTrustsOnlyTheEdgeCertificateAndRoundTrips() async throws {
        let dir = try EdgeProbe.temporaryDirectory("tls-client")
        let certificate = try await Certificate.make(in: dir, name: "edge", commonName: "localhost")
        var options = LocalCluster.Options(gatewayExecutable: TestCluster.gatewayExecutable)
        options.edges = 1
        options.edgeTLS = .init(certificate: certificate.cert, key: certificate.key)
        options.logDirectory = "\(dir)/logs"
        let cluster = LocalCluster(options: options)
        defer { cluster.stop() }
        try await offload { try cluster.start() }
        let url = cluster.edgeURL(0)
        #expect(url.hasPrefix("wss://127.0.0.1:"))

        // By IP address: the certificate's IP entry is checked, no SNI is sent.
        let tls = ClientTLS(trustRoots: certificate.cert)
        let device = TestCluster.uniqueDevice("wss")
        let client = try await DeviceClient.connect(to: url, tls: tls)
        _ = try await client.hello(device: device, token: try await TestCluster.token(device))
        let id = try await client.send(service: "echo", json: #"{"over":"tls"}"#)
        let reply = try await client.nextMessage()
        #expect(reply.id == "echo-\(id)")
        #expect(reply.payload == .json(Array(#"{"over":"tls"}"#.utf8)))
        await client.close()

        // By name, as SNI: the certificate's DNS entry is checked. A copy shares the first value's TLS context.
        let named = ClientTLS(trustRoots: certificate.cert, serverName: "localhost")
        let byName = try await DeviceClient.connect(to: url, encoding: .binary, tls: named)
        let other = TestCluster.uniqueDevice("wss-name")
        _ = try await byName.hello(device: other, token: try await TestCluster.token(other))
        try await byName.send(service: "echo", payload: .binary([1, 2, 3]))
        #expect(try await byName.nextMessage().payload == .binary([1, 2, 3]))
        await byName.close()
        let copy = tls
        #expect(try copy.context() === tls.context(), "one context per ClientTLS value, shared by its copies")

        // The chain is really checked: neither the system's roots nor another self-signed certificate trust it.
        await #expect(throws: (any Error).self) { try await DeviceClient.connect(to: url) }
        let stranger = try await Certificate.make(in: dir, name: "stranger", commonName: "localhost")
        await #expect(throws: (any Error).self) {
            try await DeviceClient.connect(to: url, tls: ClientTLS(trustRoots: stranger.cert))
        }
        await #expect(throws: ClientTLS.UnusableTrustRoots.self) {
            try await DeviceClient.connect(to: url, tls: ClientTLS(trustRoots: "\(dir)/missing.pem"))
        }

        // A reconnecting device over wss://.
        let persistent = TestCluster.uniqueDevice("wss-persistent")
        let reconnecting = PersistentDevice(device: persistent, urls: [url], tls: tls) {
            try await TestCluster.token(persistent)
        }
        reconnecting.start()
        let connected = try await within(30, "a connection") {
            for await event in reconnecting.events {
                if case .connected = event { return true }
                if case .stopped = event { return false }
            }
            return false
        }
        try #require(connected)
        try await reconnecting.send(service: "echo", payload: .binary([9]))
        let echoed = try await within(15, "an echo") {
            for await message in reconnecting.messages { return message }
            throw DeviceClient.Failure.closed(code: nil)
        }
        #expect(echoed.payload == .binary([9]))
        await reconnecting.stop()
    }

    @Test func edgeRefusesToStartWithoutTLSFilesUnlessPlaintext() async throws {
        let cluster = try await TestCluster.shared
        let base = ["edge", "--port", "\(try FreePort.next())", "--kafka", cluster.broker.bootstrap,
                    "--redis", "127.0.0.1:\(cluster.redis.port)"]

        let bare = try await EdgeProbe.run(TestCluster.gatewayExecutable, base + ["--id", "e-no-tls"])
        #expect(bare.status != 0)
        #expect(bare.output.contains("failed to start: no TLS certificate"), "\(bare.output)")
        #expect(bare.output.contains("--plaintext"), "the message says how to run without TLS: \(bare.output)")
        #expect(!bare.output.contains("edge ready"))

        let missing = try await EdgeProbe.run(
            TestCluster.gatewayExecutable,
            base + ["--id", "e-missing-tls", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"])
        #expect(missing.status != 0)
        #expect(missing.output.contains("TLS file /nonexistent/cert.pem"), "\(missing.output)")

        let both = try await EdgeProbe.run(
            TestCluster.gatewayExecutable, base + ["--id", "e-both", "--plaintext", "--tls-cert", "c", "--tls-key", "k"])
        #expect(both.status != 0)
        #expect(both.output.contains("choose one"), "\(both.output)")
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, made with `openssl`; it is its own CA.
struct Certificate {
    let cert: String
    let key: String
    /// As `openssl x509 -serial` and Python's `getpeercert()` print it: upper-case hex.
    let serial: String

    static func make(in dir: String, name: String, commonName: String) async throws -> Certificate {
        let cert = "\(dir)/\(name)-cert.pem", key = "\(dir)/\(name)-key.pem"
        guard let openssl = LocalProcess.find("openssl") else { throw EdgeProbe.Failure("openssl not found") }
        let made = try await EdgeProbe.run(openssl, [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(commonName)",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert,
        ])
        guard made.status == 0 else { throw EdgeProbe.Failure("openssl req failed: \(made.output)") }
        let printed = try await EdgeProbe.run(openssl, ["x509", "-in", cert, "-noout", "-serial"])
        guard let line = printed.output.split(separator: "\n").first(where: { $0.hasPrefix("serial=") }) else {
            throw EdgeProbe.Failure("no serial: \(printed.output)")
        }
        return Certificate(cert: cert, key: key, serial: String(line.dropFirst("serial=".count)).uppercased())
    }

    /// Puts this certificate and key where the edge reads them, each by an atomic rename, as a deploy tool would.
    func install(cert target: String, key keyTarget: String) throws {
        for (source, destination) in [(cert, target), (key, keyTarget)] {
            let staged = destination + ".new"
            try? FileManager.default.removeItem(atPath: staged)
            try FileManager.default.copyItem(atPath: source, toPath: staged)
            guard rename(staged, destination) == 0 else { throw EdgeProbe.Failure("cannot rename \(staged)") }
        }
    }
}
