import DevCluster
import Foundation
import Lifecycle
import Shared
import Testing

/// The raw-socket attack suite (Tests/security/attacks.py) against an edge of its own: every attack gets its
/// documented answer, and a well-behaved device is still served afterwards.
@Suite(.timeLimit(.minutes(6)))
struct AttackSuiteTests {
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("security/attacks.py").path
    }

    @Test func everyAttackGetsItsDocumentedAnswer() async throws {
        var options = LocalCluster.Options(gatewayExecutable: TestCluster.gatewayExecutable)
        options.edges = 1
        options.logDirectory = NSTemporaryDirectory() + "channel-gateway-attacks-\(getpid())"
        let cluster = LocalCluster(options: options)
        defer { cluster.stop() }
        try await offload { try cluster.start() }

        let gateway = TestCluster.gatewayExecutable
        let python = LocalProcess.find("python3") ?? "/usr/bin/python3"
        let suite = try LocalProcess(
            name: "attacks", executable: python,
            arguments: [Self.script, "--edge", cluster.edgeURL(0), "--token-cmd", "\(gateway) token --device {device}"])
        let summary = try await suite.line(containing: " passed, ", timeout: 300)
        await suite.exit(within: 30)
        print(suite.recentOutput)
        #expect(summary.hasSuffix(" 0 failed"), "\(summary)")
        #expect(suite.stop(grace: 1) == 0)
        #expect(cluster.edges[0].process.isRunning, "the edge survived every attack")
    }
}
