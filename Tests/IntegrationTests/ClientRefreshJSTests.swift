import DevCluster
import Foundation
import Testing

/// The JavaScript client's token refresh against the test cluster's edges: runs `clients/js/test/live-refresh.test.mjs`
/// under `node --test` (skipped there without a cluster), with tokens minted by `gateway token` that live 5 s.
@Suite(.timeLimit(.minutes(4)))
struct ClientRefreshJSTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theJavaScriptClientRefreshesOnOneConnectionAndComesBackAfter4008() async throws {
        let node = try #require(LocalProcess.find("node"), "no node: run scripts/setup.sh")
        let script = Self.packageRoot.appendingPathComponent("clients/js/test/live-refresh.test.mjs").path
        let edge = try await TestCluster.shared.edgeURL(1)
        // Node.js 20 and 21 have the global WebSocket behind this flag; later versions accept it as well.
        let run = try LocalProcess(
            name: "node-live-refresh", executable: node, arguments: ["--experimental-websocket", "--test", "--test-reporter=tap", script],
            environment: ["CG_LIVE_EDGE": edge, "CG_LIVE_GATEWAY": TestCluster.gatewayExecutable],
            echo: { print("[node] \($0)") })
        defer { _ = run.stop(grace: 2) }
        let summary = try await run.line(containing: "# fail", timeout: 200)
        await run.exit(within: 10)
        let output = run.output(lastLines: 200)
        #expect(summary.hasSuffix("# fail 0"), "\(output)")
        #expect(output.contains("# pass 2"), "both tests ran, none skipped: \(output)")
    }
}
