import DevCluster
import Foundation

/// The certificate edges serve TLS with in a benchmark run (`--tls`).
enum BenchCertificate {
    /// A self-signed P-256 certificate for 127.0.0.1, valid for a day, made with `openssl` next to the run's logs
    /// (the run's own log directory is made when its cluster starts, which needs the certificate first).
    /// - Throws: ``BenchError`` when `openssl` is missing or fails.
    static func make(_ scenario: Scenario, options: BenchOptions) throws -> LocalCluster.TLSFiles {
        let dir = "\(options.logs)/\(scenario.rawValue)-tls-\(BenchResult.stamp())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let files = LocalCluster.TLSFiles(certificate: "\(dir)/edge-cert.pem", key: "\(dir)/edge-key.pem")
        guard let openssl = LocalProcess.find("openssl") else { throw BenchError("--tls needs openssl on the PATH") }
        let made = try LocalProcess.runToEnd(openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", files.key, "-out", files.certificate,
        ])
        guard made.status == 0 else { throw BenchError("openssl req failed: \(made.output)") }
        print("\(scenario.rawValue): TLS at the edge, certificate \(files.certificate)")
        return files
    }
}
