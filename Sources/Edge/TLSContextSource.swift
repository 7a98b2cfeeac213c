import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// Where the edge's TLS certificate chain and private key live, as PEM files.
public struct TLSFiles: Sendable, Equatable {
    /// The certificate chain, leaf first, then any intermediates.
    public var certificateChain: String
    /// The private key of the leaf certificate (PKCS#8, PKCS#1 or SEC1), unencrypted.
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// The TLS context that new connections use, built from ``TLSFiles`` at start and rebuilt by ``reload()``.
///
/// Guarantees: ``current`` is always a context built from files that loaded completely (a chain and its matching
/// key). A reload whose files are missing or bad logs an error and leaves ``current`` unchanged. Each connection
/// keeps the context it started with, so a reload never disturbs an open connection. Reloading reads files: call it
/// off the event loops (``TLSReloadOnHangup`` does).
final class TLSContextSource: Sendable {
    let files: TLSFiles
    private let logger: Logger
    private let context: NIOLockedValueBox<NIOSSLContext>

    /// Loads the files.
    /// - Throws: ``TLSFilesError`` saying which file could not be used and why.
    init(files: TLSFiles, logger: Logger) throws {
        self.files = files
        self.logger = logger
        let (context, summary) = try Self.load(files)
        self.context = NIOLockedValueBox(context)
        logger.info("TLS: serving \(summary)")
    }

    /// The context for a connection accepted now.
    var current: NIOSSLContext { context.withLockedValue { $0 } }

    /// Builds a context from the files again and, if that works, makes it the one new connections get.
    /// - Returns: whether the new files are in use.
    @discardableResult
    func reload() -> Bool {
        do {
            let (fresh, summary) = try Self.load(files)
            context.withLockedValue { $0 = fresh }
            logger.notice("TLS: reloaded, new connections get \(summary); open connections keep theirs")
            return true
        } catch {
            logger.error("TLS: reload failed, keeping the current certificate: \(error)")
            return false
        }
    }

    /// A server context from the files: TLS 1.2 or newer, NIOSSL's default ciphers.
    static func load(_ files: TLSFiles) throws -> (NIOSSLContext, summary: String) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw TLSFilesError(file: files.certificateChain, problem: "no PEM certificate could be read (\(error))")
        }
        guard let leaf = chain.first else {
            throw TLSFilesError(file: files.certificateChain, problem: "it holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw TLSFilesError(file: files.privateKey, problem: "no unencrypted PEM private key could be read (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSFilesError(file: files.privateKey,
                                problem: "it does not fit the certificate in \(files.certificateChain) (\(error))")
        }
        let expiry = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let serial = leaf.serialNumber.map { String($0, radix: 16, uppercase: true) }
            .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        return (context, "the certificate with serial \(serial), valid until \(expiry), from \(files.certificateChain)")
    }
}

/// A TLS file the edge could not use.
public struct TLSFilesError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String

    public var description: String { "TLS file \(file): \(problem)" }
}
