import DevCluster
import Foundation
import Testing

/// The README's run command, seen by a newcomer: `gateway dev` serves the demo page, and two tabs of a real headless
/// Chromium use it (Tests/browser/demo_test.py): they see each other's presence, do an echo round trip, and one gets
/// a push notification sent with an HTTP call; one click on the broadcast button reaches both tabs through topic
/// `demo.broadcast`, and a tab that leaves the page and comes back gets exactly the broadcast it missed; one tab's
/// edge is drained and the tab moves to the other edge. The screenshot lands in `.build/demo-screenshot.png`.
@Suite(.timeLimit(.minutes(4)))
struct DemoPageTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func twoBrowserTabsUseEchoPushPresenceAndBroadcastThroughTheDemoPage() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "no chromium: run scripts/setup.sh")
        let port = try FreePort.consecutive(2, from: 10_000 + Int.random(in: 0..<20_000))
        let demoPort = try FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
        let pushPort = try FreePort.consecutive(1, from: 10_000 + Int.random(in: 0..<20_000))
        let dev = try LocalProcess(
            name: "dev", executable: TestCluster.gatewayExecutable,
            arguments: ["dev", "--port", "\(port)", "--demo-port", "\(demoPort)", "--push-port", "\(pushPort)",
                        "--api-port", "\(try FreePort.next())",
                        "--log-dir", NSTemporaryDirectory() + "cg-demo-test-\(port)"])
        defer { _ = dev.stop(grace: 20) }
        try await dev.line(containing: "ready:", timeout: 150)
        let url = "http://127.0.0.1:\(demoPort)/"
        #expect(dev.recentOutput.contains("demo \(url)"), "dev prints the demo's URL")

        let screenshot = Self.packageRoot.appendingPathComponent(".build/demo-screenshot.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let browser = try LocalProcess(
            name: "browser", executable: ContractTests.python,
            arguments: [Self.packageRoot.appendingPathComponent("Tests/browser/demo_test.py").path,
                        "--url", url, "--screenshot", screenshot, "--dev-pid", "\(dev.pid)"])
        defer { _ = browser.stop(grace: 2) }
        let result = try await browser.line(containing: #"{"ok": "#, timeout: 180)
        // The script quits Chromium and its driver after printing; let it, or they outlive the test.
        await browser.exit(within: 30)
        print("[demo] \(result)")
        #expect(result.contains(#"{"ok": true"#), "the browser test failed: \(browser.recentOutput)")
        #expect(FileManager.default.fileExists(atPath: screenshot), "no screenshot at \(screenshot)")
    }
}
