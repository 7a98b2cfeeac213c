import NIOConcurrencyHelpers
import NIOSSL

/// How a ``DeviceClient`` checks the edge on a `wss://` URL: which certificates it trusts and which name it expects.
///
/// Guarantees: TLS 1.2 or newer; the edge's chain must lead to one of the trust roots, and its certificate must name
/// ``serverName`` (without one, the URL's host) or list the IP address connected to: NIOSSL accepts either. A name
/// that is an IP address is not sent as SNI. The TLS context is built on the first connect and shared by every later connect
/// with this value or a copy of it, since a context costs far more than a connection; a context that could not be
/// built is not kept, so the next connect tries again.
public struct ClientTLS: Sendable {
    /// A PEM file of the certificates to trust (for example a self-signed edge's own certificate); nil trusts the
    /// system's roots.
    public let trustRoots: String?
    /// The host name to send in SNI and to find in the certificate; nil uses the URL's host.
    public let serverName: String?
    private let cache = ContextCache()

    /// - Parameters:
    ///   - trustRoots: a PEM file of the certificates to trust; nil trusts the system's roots.
    ///   - serverName: the host name to send in SNI and to find in the certificate; nil uses the URL's host.
    public init(trustRoots: String? = nil, serverName: String? = nil) {
        self.trustRoots = trustRoots
        self.serverName = serverName
    }

    /// The system's trust roots and the URL's host: what a `wss://` URL gets without a ``ClientTLS``.
    public static let system = ClientTLS()

    /// A trust roots file that could not be used.
    public struct UnusableTrustRoots: Error, CustomStringConvertible {
        public let file: String
        public let problem: String

        public var description: String { "trust roots file \(file): \(problem)" }
    }

    /// The context for a connection made now: built on the first call, the same one afterwards.
    /// - Throws: ``UnusableTrustRoots`` when ``trustRoots`` holds no PEM certificate.
    func context() throws -> NIOSSLContext {
        try cache.context.withLockedValue { cached in
            if let cached { return cached }
            let built = try makeContext()
            cached = built
            return built
        }
    }

    private func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let trustRoots {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(trustRoots)
            } catch {
                throw UnusableTrustRoots(file: trustRoots, problem: "no PEM certificate could be read (\(error))")
            }
            guard !certificates.isEmpty else { throw UnusableTrustRoots(file: trustRoots, problem: "it holds no certificate") }
            configuration.trustRoots = .certificates(certificates)
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Shared by a value and its copies, so the context is built once for all of them.
    private final class ContextCache: Sendable {
        let context = NIOLockedValueBox<NIOSSLContext?>(nil)
    }
}
