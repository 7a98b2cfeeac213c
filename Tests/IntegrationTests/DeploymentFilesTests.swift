import DevCluster
import Foundation
import Testing

/// docker-compose.yml, deploy/kubernetes/ and deploy/kubernetes/redis-cluster/ are checked by the validators available
/// without a Docker engine or a cluster: `docker-compose config` (Compose's own schema and interpolation) and
/// `kubernetes-validate --strict` (the Kubernetes 1.37 OpenAPI schemas, unknown fields refused). Neither starts anything.
@Suite struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let validator = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CG_TEST_PYTHON"]
        ?? "/var/cache/channel-gateway/test-venv/bin/python").deletingLastPathComponent().appendingPathComponent("kubernetes-validate").path

    /// Runs `executable` in the repository's root (`env -C`), as LocalProcess runs every child: Foundation's `Process`
    /// crashes now and then on Linux.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await LocalProcess.run("/usr/bin/env", ["-C", root, executable] + arguments)
    }

    /// The `.yaml` files directly in `directory` (relative to the repository's root), sorted, as absolute paths.
    static func yamlFiles(in directory: String) -> [String] {
        let dir = root + "/" + directory
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted().map { "\(dir)/\($0)" }
    }

    var manifests: [String] { Self.yamlFiles(in: "deploy/kubernetes") }

    /// The `CG_*` entries of a ConfigMap file's `data`, by key (one `  CG_NAME: "value"` line each).
    static func settings(_ file: String) throws -> [String: String] {
        var settings: [String: String] = [:]
        for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") where line.hasPrefix("  CG_") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            settings[key] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        return settings
    }

    @Test func composeFileIsValid() async throws {
        let result = try await Self.run("/usr/bin/docker-compose", ["-f", "docker-compose.yml", "config", "-q"])
        #expect(result.status == 0, "docker-compose config: \(result.output)")
        let services = try await Self.run("/usr/bin/docker-compose", ["-f", "docker-compose.yml", "config", "--services"]).output
        for service in ["kafka", "redis", "edge-1", "edge-2", "router", "echo", "push", "presence", "lb"] {
            #expect(services.split(separator: "\n").contains(Substring(service)), "compose runs \(service)")
        }
    }

    @Test func kubernetesManifestsAreValid() async throws {
        #expect(manifests.count >= 5)
        let result = try await Self.run(Self.validator, ["--strict"] + manifests)
        #expect(result.status == 0, "kubernetes-validate: \(result.output)")
        let all = try manifests.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n---\n")
        for kind in ["kind: Deployment", "kind: Service", "kind: HorizontalPodAutoscaler", "kind: PodDisruptionBudget"] {
            #expect(all.contains(kind), "deploy/kubernetes has a \(kind)")
        }
        #expect(all.contains("path: /healthz") && all.contains("path: /readyz"), "probes on /healthz and /readyz")
    }

    @Test func redisClusterManifestsAreValid() async throws {
        let files = Self.yamlFiles(in: "deploy/kubernetes/redis-cluster")
        #expect(files.count >= 2)
        let result = try await Self.run(Self.validator, ["--strict"] + files)
        #expect(result.status == 0, "kubernetes-validate: \(result.output)")
        let all = try files.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n---\n")
        for kind in ["kind: StatefulSet", "kind: Job", "kind: PodDisruptionBudget"] {
            #expect(all.contains(kind), "deploy/kubernetes/redis-cluster has a \(kind)")
        }
        #expect(all.contains("CG_REDIS_MODE: \"cluster\""), "the cluster ConfigMap sets CG_REDIS_MODE")
        // The cluster ConfigMap replaces the standalone one: every other setting must be the same.
        let standalone = try Self.settings(Self.root + "/deploy/kubernetes/configmap.yaml")
        let cluster = try Self.settings(Self.root + "/deploy/kubernetes/redis-cluster/configmap.yaml")
        #expect(!standalone.isEmpty)
        for (key, value) in standalone where !key.hasPrefix("CG_REDIS") {
            #expect(cluster[key] == value, "redis-cluster/configmap.yaml sets \(key) as ../configmap.yaml does")
        }
    }

    @Test func theValidatorRefusesABrokenManifest() async throws {
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
        #expect(try await Self.run(Self.validator, ["--strict", file]).status != 0)
    }
}
