import ChannelProtocol
import Foundation

extension PersistentDevice {
    /// Why a token from the app was not used.
    enum TokenUnusable: Error, CustomStringConvertible {
        /// The edge refused it, or it expired or was revoked: it would only be refused again.
        case refusedBefore
        /// It is the token the connection already has: refreshing with it gains nothing.
        case inUse

        var description: String {
            switch self {
            case .refusedBefore: return "the token callback gave the token the edge refused (or that expired or was revoked)"
            case .inUse: return "the token callback gave the token the connection already has"
            }
        }
    }

    /// The wait before getting a token again after `failures` failures in a row (1 s doubling to 30 s, jittered).
    static func tokenRetryDelay(_ failures: Int) -> Duration {
        .milliseconds(Int64(TokenRefreshSchedule.retryDelay(failures: failures, random: .random(in: 0..<1)) * 1000))
    }

    /// Keeps `client`'s token fresh until the connection ends (or this task is cancelled): refreshes on the edge's
    /// `refresh_due`, or unprompted shortly after the edge should have sent it, and retries a failure with backoff
    /// (``TokenRefreshSchedule``). The edge closes the connection (4008) once the token expired and its grace passed.
    func keepTokenFresh(on client: DeviceClient, expiresAt: Int?) async {
        var schedule = TokenRefreshSchedule(expiresAt: expiresAt, now: Self.wallClock())
        let (triggers, wake) = AsyncStream<TokenRefreshSchedule.Trigger>.makeStream()
        let frames = Task {
            for await due in client.refreshDue { wake.yield(.due(expiresAt: due)) }
            wake.finish()
        }
        var timer = Self.timer(at: schedule.nextAttempt, wake: wake)
        defer {
            frames.cancel()
            timer?.cancel()
        }
        for await trigger in triggers {
            guard schedule.shouldRefresh(trigger, now: Self.wallClock()) else { continue }
            do {
                let token = try await getToken()
                if state.withLockedValue({ $0.token == token }) { throw TokenUnusable.inUse }
                let expiresAt = try await client.refresh(token: token)
                state.withLockedValue { s in
                    s.token = token
                    s.refreshes += 1
                    s.tokenFailure = nil
                }
                schedule.refreshed(expiresAt: expiresAt, now: Self.wallClock(), random: .random(in: 0..<1))
            } catch DeviceClient.Failure.closed {
                return
            } catch {
                if Task.isCancelled { return }
                state.withLockedValue { $0.tokenFailure = "\(error)" }
                schedule.failed(now: Self.wallClock(), random: .random(in: 0..<1))
            }
            timer?.cancel()
            timer = Self.timer(at: schedule.nextAttempt, wake: wake)
        }
    }

    /// A task that wakes the refresher at `time` (Unix seconds).
    private static func timer(at time: Double?, wake: AsyncStream<TokenRefreshSchedule.Trigger>.Continuation) -> Task<Void, Never>? {
        guard let time else { return nil }
        return Task {
            try? await Task.sleep(for: .milliseconds(Int64(max(0, time - wallClock()) * 1000)))
            if !Task.isCancelled { wake.yield(.timer) }
        }
    }

    static func wallClock() -> Double { Date().timeIntervalSince1970 }
}
