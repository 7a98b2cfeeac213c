import ChannelProtocol
import Shared

/// The protocol state of one device connection, free of sockets: given what arrived, it says what to do.
///
/// Guarantees: nothing but `hello` is acted on before the hello is accepted; a message is published only for a
/// service that exists and that the device's token allows; a subscription is made only to a topic one of the token's
/// patterns allows; every refusal names its documented error code. A `refresh` is acted on only once ready, and its
/// grant replaces the connection's only when it names the same device.
struct DeviceSession {
    enum State: Equatable {
        case awaitingHello
        case authenticating
        case ready(device: String, session: String)
        case closed
    }

    enum Action: Equatable {
        case send(Frame)
        case sendAndClose(Frame?, CloseCode)
        case authenticate(Hello)
        /// `claims` is the record's `claims` header: the grant's claims with the service's defaults.
        case publish(Message, device: String, session: String, claims: [UInt8])
        /// Verify this token as the connection's next grant.
        case refresh(token: String, device: String)
        case deviceAcked(id: String, device: String)
        /// The token allows the topic; the connection checks its own limits.
        case subscribe(topic: String, position: TopicPosition?)
        case unsubscribe(topic: String)
    }

    private(set) var state: State = .awaitingHello
    private(set) var grant: DeviceGrant?
    /// The `claims` header per service, built once per grant.
    private var claimsByService: [String: [UInt8]] = [:]
    let services: ServiceCatalog

    init(services: ServiceCatalog) {
        self.services = services
    }

    /// What to do with a decoded frame, or with the error decoding it raised.
    mutating func received(_ decoded: Result<Frame, ProtocolError>) -> Action? {
        switch (state, decoded) {
        case (.closed, _):
            return nil
        case (.awaitingHello, .success(.hello(let hello))):
            state = .authenticating
            return .authenticate(hello)
        case (.awaitingHello, .failure(let error)) where error.code == .badFrame || error.code == .invalidField:
            return closeWith(.error(error), .protocolViolation)
        case (.awaitingHello, _), (.authenticating, _):
            return closeWith(.error(ProtocolError(.helloRequired, "send hello first and wait for welcome")),
                             .protocolViolation)
        case (.ready, .failure(let error)):
            return .send(.error(error))
        case (.ready, .success(.hello)):
            return closeWith(.error(ProtocolError(.alreadyHello, "this connection already said hello")),
                             .protocolViolation)
        case (.ready(let device, let session), .success(.msg(let message))):
            guard services.service(message.service) != nil else {
                return .send(.error(ProtocolError(.unknownService, "no service named \"\(message.service)\"", ref: message.id)))
            }
            guard let grant, services.allows(grant, message.service) else {
                return .send(.error(ProtocolError(.forbiddenService, "this device may not use \"\(message.service)\"", ref: message.id)))
            }
            let claims = claimsByService[message.service] ?? services.claims(for: message.service, tokenClaims: grant.claims)
            claimsByService[message.service] = claims
            return .publish(message, device: device, session: session, claims: claims)
        case (.ready(let device, _), .success(.ack(let id))):
            return .deviceAcked(id: id, device: device)
        case (.ready, .success(.subscribe(let topic, let position))):
            guard let grant, grant.allows(topic: topic) else {
                return .send(.error(ProtocolError(.forbiddenTopic, "this device may not subscribe to \"\(topic)\"", ref: topic)))
            }
            return .subscribe(topic: topic, position: position)
        case (.ready, .success(.unsubscribe(let topic))):
            return .unsubscribe(topic: topic)
        case (.ready(let device, _), .success(.refresh(let token))):
            return .refresh(token: token, device: device)
        case (.ready, .success(let frame)):
            return .send(.error(ProtocolError(.unknownType, "a device does not send \"\(frame.typeName)\" frames")))
        }
    }

    /// The hello was verified and the route registered.
    mutating func accepted(_ grant: DeviceGrant, session: String, welcome: Welcome) -> Action? {
        guard state == .authenticating else { return nil }
        self.grant = grant
        state = .ready(device: grant.device, session: session)
        return .send(.welcome(welcome))
    }

    /// A refresh's token was verified for this device: it becomes the grant for everything after it.
    mutating func refreshed(_ next: DeviceGrant) -> Action? {
        guard case .ready(let device, _) = state, next.device == device else { return nil }
        grant = next
        claimsByService = [:]
        return .send(.refreshed(expiresAt: Int(next.expiresAt.timeIntervalSince1970)))
    }

    /// The hello was refused: the token (4001) or the registry (4007, retryable).
    mutating func refused(_ error: ProtocolError) -> Action? {
        guard state == .authenticating else { return nil }
        return closeWith(.error(error), error.code == .authFailed ? .authFailed : .unavailable)
    }

    /// The connection must end, for example on hello timeout.
    mutating func close(_ error: ProtocolError?, _ code: CloseCode) -> Action? {
        guard state != .closed else { return nil }
        state = .closed
        return .sendAndClose(error.map(Frame.error), code)
    }

    private mutating func closeWith(_ frame: Frame?, _ code: CloseCode) -> Action {
        state = .closed
        return .sendAndClose(frame, code)
    }

    /// The device and session, once ready.
    var readySession: (device: String, session: String)? {
        if case .ready(let device, let session) = state { return (device, session) }
        return nil
    }

    mutating func markClosed() { state = .closed }
}
