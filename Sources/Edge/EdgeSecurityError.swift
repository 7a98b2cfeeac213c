/// Why an edge refused to start with its TLS and limit settings.
public enum EdgeSecurityError: Error, Equatable, CustomStringConvertible {
    /// Neither TLS files nor plaintext were configured: the edge never serves plain `ws://` by accident.
    case tlsRequired
    /// TLS files and plaintext were both configured; the edge serves one or the other.
    case tlsAndPlaintext
    /// A limit in ``EdgeLimits`` is out of its range.
    case invalidLimit(String)

    public var description: String {
        switch self {
        case .tlsRequired:
            "no TLS certificate: give --tls-cert and --tls-key (env CG_TLS_CERT, CG_TLS_KEY), or --plaintext "
                + "(env CG_PLAINTEXT=1) to serve ws:// without TLS, for development or behind a proxy that terminates TLS"
        case .tlsAndPlaintext:
            "both TLS files and --plaintext given: choose one"
        case .invalidLimit(let problem):
            "invalid limit: \(problem)"
        }
    }
}
