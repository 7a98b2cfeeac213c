import Foundation
import Testing

/// docker-compose.yml and deploy/kubernetes/ are checked by the validators available without a Docker engine or a
/// cluster: `docker-compose config` (Compose's own schema and interpolation) and `kubernetes-validate --strict`
/// (the Kubernetes 1.37 OpenAPI schemas, unknown fields refused). Neither starts anything.
@Suite struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let validator = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CG_TEST_PYTHON"]
        ?? "/var/cache/channel-gateway/test-venv/bin/python").deletingLastPathComponent().appendingPathComponent("kubernetes-validate").path

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    var manifests: [String] {
        let dir = Self.root + "/deploy/kubernetes"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted().map { "\(dir)/\($0)" }
    }

    @Test func composeFileIsValid() throws {
        let result = try Self.run("/usr/bin/docker-compose", ["-f", "docker-compose.yml", "config", "-q"])
        #expect(result.status == 0, "docker-compose config: \(result.output)")
        let services = try Self.run("/usr/bin/docker-compose", ["-f", "docker-compose.yml", "config", "--services"]).output
        for service in ["kafka", "redis", "edge-1", "edge-2", "router", "echo", "push", "presence", "lb"] {
            #expect(services.split(separator: "\n").contains(Substring(service)), "compose runs \(service)")
        }
    }

    @Test func kubernetesManifestsAreValid() throws {
        #expect(manifests.count >= 5)
        let result = try Self.run(Self.validator, ["--strict"] + manifests)
        #expect(result.status == 0, "kubernetes-validate: \(result.output)")
        let all = try manifests.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n---\n")
        for kind in ["kind: Deployment", "kind: Service", "kind: HorizontalPodAutoscaler", "kind: PodDisruptionBudget"] {
            #expect(all.contains(kind), "deploy/kubernetes has a \(kind)")
        }
        #expect(all.contains("path: /healthz") && all.contains("path: /readyz"), "probes on /healthz and /readyz")
    }

    @Test func theValidatorRefusesABrokenManifest() throws {
        let file = NSTemporaryDirectory() + "broken-\(getpid()).yaml"
        try """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: broken}
        spec:
          replicas: "three"
          selector: {matchLabels: {a: b}}
          template:
            metadata: {labels: {a: b}}
            spec:
              containers: [{name: c, image: i, readinessProbe: {httpGet: {path: /readyz}}}]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try Self.run(Self.validator, ["--strict", file]).status != 0)
    }
}
