import DevCluster
import Foundation
import Testing

/// schemathesis (in the test virtualenv, scripts/setup.sh) generates requests from docs/openapi.yaml, valid and
/// invalid, for every operation and sends them to the shared cluster's `gateway api` with a key of every scope. It
/// fails on any 5xx, any status the document does not list for the operation, and any answer whose content type,
/// headers or body break the document; the test fails with schemathesis's report. About 300 generated requests per operation
/// (`--max-examples`, plus the examples and coverage phases), well under two minutes here.
/// scripts/test.sh runs it on its own after the rest of the suite (`CG_SCHEMATHESIS=later` skips it in the first run).
@Suite(.timeLimit(.minutes(4)),
       .disabled(if: ProcessInfo.processInfo.environment["CG_SCHEMATHESIS"] == "later", "scripts/test.sh runs it alone next"))
struct APISchemathesisTests {
    static let python = ProcessInfo.processInfo.environment["CG_TEST_PYTHON"] ?? "/var/cache/channel-gateway/test-venv/bin/python"
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml").path

    /// The checks: no server error, and status, content type, headers and body as the document says.
    static let checks = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
                         "response_headers_conformance", "response_schema_conformance"]

    @Test func generatedRequestsGetNoServerErrorAndOnlyDocumentedAnswers() async throws {
        let st = URL(fileURLWithPath: Self.python).deletingLastPathComponent().appendingPathComponent("st").path
        #expect(FileManager.default.isExecutableFile(atPath: st), "no schemathesis at \(st): run scripts/setup.sh")
        let api = try #require(try await TestCluster.shared.apiURL)
        // The drain operation is left to the tests that know which edge they may stop: a generated request that named a
        // real edge would take it away from every other test. Its answers for unknown edges are checked in APITests.
        // One worker: with two, threads parsing Python source at once trip CPython 3.11's AST recursion counter (a
        // SystemError inside hypothesis, "AST constructor recursion depth mismatch"), which schemathesis reports as an
        // error of the run. One worker is also faster here: the API and the tests share two cores.
        let arguments = [
            "-C", NSTemporaryDirectory(), st, "run", Self.document, "--url", api,
            "--header", "Authorization: Bearer \(TestCluster.apiAllKey)",
            "--checks", Self.checks.joined(separator: ","),
            "--max-examples", "300", "--workers", "1", "--seed", "1818",
            "--exclude-operation-id", "drainEdge",
            "--generation-database", "none", "--request-timeout", "10",
            "--no-color", "--output-sanitize", "true",
        ]
        let started = Date()
        let run = try LocalProcess(name: "schemathesis", executable: "/usr/bin/env", arguments: arguments)
        await run.exit(within: 200)
        let status = run.stop(grace: 1)
        let report = run.output(lastLines: 300)
        #expect(status == 0, "schemathesis found problems (exit \(status)):\n\(report)")
        let seconds = Date().timeIntervalSince(started)
        print("schemathesis: \(Int(seconds)) s, exit \(status); \(report.split(separator: "\n").suffix(12).joined(separator: "\n"))")
    }
}
