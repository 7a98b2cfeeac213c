import ChannelProtocol

extension DeviceClient {
    /// Sends `refresh` with a new token for the same device and returns when the edge accepted it: from then on the
    /// new token's grant (services, topics, expiry) applies to this connection, and ``tokenExpiresAt`` is its expiry.
    /// Call it only after ``hello(device:token:timeout:)`` succeeded.
    /// - Returns: the new token's expiry (Unix seconds), from the edge's `refreshed`.
    /// - Throws: ``Failure/refused(_:)`` with `auth_failed` when the edge refused the token (invalid, for another
    ///   device, revoked, or refreshes too often: a burst of 3, then one per 10 s); the connection then stays open
    ///   with its old grant, which still expires. ``Failure/closed(code:)`` when the connection ended first,
    ///   ``Failure/timedOut`` when no answer came within `timeout`.
    @discardableResult
    public func refresh(token: String, timeout: Duration = .seconds(10)) async throws -> Int {
        let id = state.withLockedValue { s in s.nextID += 1; return s.nextID }
        return try await withTimeout(timeout) {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                    // Under the lock, so that a cancellation either finds the entry or is seen here.
                    let (closed, cancelled) = self.state.withLockedValue { s -> (UInt16??, Bool) in
                        if s.closedCode != nil || Task.isCancelled { return (s.closedCode, Task.isCancelled) }
                        s.refreshWaiters.append((id, continuation))
                        return (nil, false)
                    }
                    if let closed { continuation.resume(throwing: Failure.closed(code: closed)); return }
                    if cancelled { continuation.resume(throwing: Failure.timedOut); return }
                    self.send(frame: .refresh(token: token))
                }
            } onCancel: {
                // The entry stays, without its caller: the edge's answer to this frame is still to come.
                self.state.withLockedValue { s -> CheckedContinuation<Int, any Error>? in
                    guard let index = s.refreshWaiters.firstIndex(where: { $0.id == id }) else { return nil }
                    defer { s.refreshWaiters[index].continuation = nil }
                    return s.refreshWaiters[index].continuation
                }?.resume(throwing: Failure.timedOut)
            }
        }
    }
}
