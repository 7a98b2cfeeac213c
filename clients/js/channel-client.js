// Channel Gateway's JavaScript client: one WebSocket per device, shared by every service.
// A dependency-free ES module for browsers and Node.js 18+ (Node.js 22+ and other runtimes with a global WebSocket
// need nothing more; older ones pass a WebSocket implementation as options.WebSocket).
// The protocol it speaks is docs/protocol.md (JSON encoding, subprotocol channel.v1.json); its API is docs/js-client.md.

const SUBPROTOCOL = 'channel.v1.json';

// Close codes after which reconnecting cannot help (docs/protocol.md, "Close codes"), or only with a new token.
const REPLACED = 4004;
const AUTH_FAILED = 4001;
const PROTOCOL_VIOLATION = 4002;
const TOKEN_EXPIRED = 4008;
const REVOKED = 4009;
const NEEDS_TOKEN = new Set([AUTH_FAILED, TOKEN_EXPIRED, REVOKED]);
// The `ref` of the edge's auth_failed answer to a refused `refresh`.
const REFRESH_REF = 'refresh';

// Codes of the errors that answer a `sub` or `unsub`, with the topic as `ref`. A `msg` never gets one of these with a
// ref (its `invalid_field` has none), so a ref with one of these codes names a topic, never a message id.
const TOPIC_ERRORS = new Set(['forbidden_topic', 'not_subscribed', 'too_many_topics', 'bad_position', 'invalid_field']);
// The protocol's topic rule. Checked here because the edge's answer to a malformed name carries no ref, so it could
// not be matched to its subscribe call.
const TOPIC_NAME = /^[A-Za-z0-9._:@-]{1,200}$/;

/** An error the gateway reported for a message (`code` as in docs/protocol.md), or a local failure of `send`. */
export class ChannelError extends Error {
  constructor(code, message, { retryable = false, ref = undefined } = {}) {
    super(message);
    this.name = 'ChannelError';
    this.code = code;
    this.retryable = retryable;
    this.ref = ref;
  }
}

/**
 * Keeps one device connected to the gateway and multiplexes services over it.
 *
 * Guarantees:
 * - `send` resolves only when the edge acked the message (the broker has it); a message that is unacked when the
 *   connection drops is sent again, with the same id, after the next `welcome`, so a service sees it at least once.
 * - Messages from services reach their handler at most once per id among the last `dedupeWindow` ids (across
 *   connections), in the order the edge sends them; each is acked after its handler returned (or its promise
 *   resolved). A handler that throws leaves the message unacked, so the gateway delivers it again on a later connection.
 *   A repeat that arrives while the first copy's handler still runs is acked only once that handler succeeded.
 * - After a lost connection it reconnects with jittered exponential backoff, trying its URLs in turn; it honours the
 *   edge's `reconnect` frame (a drain, or an operator's disconnect); it stops for good after close 4004 (replaced) or
 *   4002 (protocol violation), and after 4001 (auth failed), 4008 (token expired) or 4009 (revoked) when its token is a fixed string. Once it
 *   stopped, pending and new sends reject with the state it stopped in (`closed`, `replaced` or `failed`).
 * - With `getToken`, the token is got before each connection and kept fresh on it: on the edge's `refresh_due` (or,
 *   if none comes, shortly before the token's `exp`) the client calls `getToken` and sends `refresh`; a failure
 *   (`getToken` rejects, the edge refuses the token, or it expires no later than the one in use) is retried after
 *   1 s, doubling to 30 s, jittered, until the connection ends. A token the edge refused at hello, or whose connection
 *   it closed as expired or revoked, is never sent again: `getToken` is asked again with the same backoff.
 * - Topic subscriptions (`subscribe`) are made again after every reconnect, naming the last position processed, so
 *   the edge replays what the device missed; each topic's notices reach its handler one at a time, in order, without
 *   repeats of the last processed position. Positions outlive the page in `storage` (sessionStorage by default).
 */
export class ChannelClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string|string[]} options.url edge URL(s), e.g. `wss://edge.example.com/v1/channel`; tried in turn.
   * @param {string} options.device the device id the token was issued for.
   * @param {function(): (string|Promise<string>)} [options.getToken] returns a token for the device (or a promise
   *   of one); called before every hello and for every refresh of the connection's token.
   * @param {string|function(): (string|Promise<string>)} [options.token] a fixed token, never refreshed; or, as a
   *   function, the same as `getToken`. One of `getToken` and `token` is required.
   * @param {number} [options.minBackoffMs=250] @param {number} [options.maxBackoffMs=30000]
   * @param {number} [options.dedupeWindow=4096] how many received ids are remembered to drop repeats.
   * @param {function} [options.WebSocket] a WebSocket constructor (defaults to the global one).
   * @param {?{getItem: function, setItem: function, removeItem: function}} [options.storage] where topic positions are
   *   kept across page loads (defaults to `sessionStorage` when the runtime has one; `null` keeps them in memory only).
   */
  constructor({ url, device, token, getToken, minBackoffMs = 250, maxBackoffMs = 30000, dedupeWindow = 4096,
    WebSocket: Socket, storage = sessionStorageIfAny() } = {}) {
    super();
    if (!url || !device || !(token || getToken)) throw new TypeError('ChannelClient needs url, device and token or getToken');
    if (getToken !== undefined && typeof getToken !== 'function') throw new TypeError('getToken must be a function');
    this.urls = Array.isArray(url) ? [...url] : [url];
    this.device = device;
    this.getToken = getToken ?? (typeof token === 'function' ? token : null);   // null: a fixed token
    this.token = this.getToken ? null : token;
    this.minBackoffMs = minBackoffMs;
    this.maxBackoffMs = maxBackoffMs;
    this.Socket = Socket ?? globalThis.WebSocket;
    if (!this.Socket) throw new TypeError('no WebSocket implementation: pass options.WebSocket');
    this.state = 'idle';
    this.welcome = null;
    this.handlers = new Map();
    this.pending = new Map();           // id -> { frame, resolve, reject, timer, writes }, in send order
    this.seen = new RecentIds(dedupeWindow);   // ids whose handler completed
    this.inFlight = new Map();          // id -> promise of its async handler, while it runs
    this.attempt = 0;
    this.urlIndex = 0;
    this.socket = null;
    this.retryTimer = null;
    this.drainDelayMs = null;
    this.stopped = false;
    this.idPrefix = `js-${randomId()}-`;
    this.nextId = 1;
    this.storage = storage;
    this.subscriptions = new Map();     // topic -> Subscription, until unsubscribe or a stop
    this.topicRequests = new Map();     // topic -> [request] written on this connection and not answered yet
    this.opening = null;                // the open() waiting for its token: an object only that call holds
    this.tokenFailures = 0;             // tokens not got, or refused at hello, in a row
    this.currentToken = null;           // the token of this connection's grant (its hello's, then each refresh's)
    this.refusedToken = null;           // refused at hello, expired or revoked: never sent again
    this.tokenExpiresAt = null;         // when this connection's token expires (Unix seconds), if the edge said
    this.refresh = null;                // { failures, timer, nextAt, inFlight: { token } | 'getting' | null } per connection
  }

  /**
   * Registers the handler of a service's messages (`'*'` for services without their own handler).
   * The handler gets `(body, message)`: `body` is the JSON value, or a Uint8Array for binary payloads; `message` is
   * `{ service, id, body }` or `{ service, id, data }`. Returns a function that unregisters it.
   */
  on(service, handler) {
    this.handlers.set(service, handler);
    return () => { if (this.handlers.get(service) === handler) this.handlers.delete(service); };
  }

  /** Starts connecting (and keeps reconnecting); resolves at the first `welcome`. */
  connect() {
    this.stopped = false;
    const welcomed = new Promise((resolve, reject) => {
      const onState = (event) => {
        const { state } = event.detail;
        if (state === 'connected') { this.removeEventListener('state', onState); resolve(this.welcome); }
        if (state === 'failed' || state === 'replaced' || state === 'closed') {
          this.removeEventListener('state', onState);
          reject(new ChannelError(state, `connection ${state}`));
        }
      };
      this.addEventListener('state', onState);
    });
    if (!this.socket && !this.retryTimer && !this.opening) this.open();
    return welcomed;
  }

  /**
   * Sends `body` to `service`: a JSON value, or a Uint8Array/ArrayBuffer sent as binary `data`.
   * Resolves with the message id once the edge acked it; rejects with a ChannelError the edge reported (not
   * retryable), or `timeout` after `timeoutMs` (the message may still arrive; a new send gets a new id).
   * Sent at once when connected; otherwise when the connection is back. Pass `id` to choose the id yourself.
   */
  send(service, body, { id = undefined, timeoutMs = 0 } = {}) {
    // Stopped (closed, replaced or failed): nothing would ever send it, so do not queue it.
    if (this.stopped) return Promise.reject(new ChannelError(this.state, `the client has stopped (${this.state})`));
    const messageId = id ?? this.idPrefix + this.nextId++;
    // The same id again while it waits for its ack is the same message: it is already on its way, so share its fate.
    const waiting = this.pending.get(messageId);
    if (waiting) return waiting.promise;
    const frame = { type: 'msg', service, id: messageId };
    if (body instanceof Uint8Array || body instanceof ArrayBuffer) frame.data = toBase64(new Uint8Array(body));
    else frame.body = body === undefined ? null : body;
    const entry = { frame, resolve: null, reject: null, timer: null, writes: 0, promise: null };
    entry.promise = new Promise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
    if (timeoutMs > 0) {
      entry.timer = setTimeout(() => {
        this.pending.delete(messageId);
        entry.reject(new ChannelError('timeout', `no ack for ${messageId} within ${timeoutMs} ms`, { ref: messageId }));
      }, timeoutMs);
    }
    this.pending.set(messageId, entry);
    if (this.state === 'connected') this.writePending(entry);
    return entry.promise;
  }

  /**
   * Subscribes to `topic` and hands its notices to `handler`, one at a time, in order:
   * `{ type: 'event', topic, pos, from, body }` (or `data`, a Uint8Array, for a binary payload), and
   * `{ type: 'gap', topic, pos }` when messages up to `pos` were missed for good (`pos` is null when the gateway
   * refused the stored position; delivery then goes on with new messages).
   * If the handler returns a promise, the topic's next notice waits for it. A notice counts as processed (its position
   * becomes the topic's last position, kept in `storage`) once the handler returned or its promise settled; a
   * handler that throws is reported as an `error` event and the notice still counts, since topics have no per-message
   * redelivery. A notice whose position equals the last processed (or a queued) one is dropped.
   * The subscription resumes after the last position (from `storage`, or `pos` if given), and is made again after
   * every reconnect. Resolves with `{ topic, pos }` (the position it resumed after, or null) when the edge confirmed
   * it; rejects with a ChannelError whose `ref` is the topic (`forbidden_topic`, `too_many_topics`, `invalid_field`,
   * `unsubscribed`, or the state the client stopped in). Subscribing to a topic again replaces its handler.
   */
  subscribe(topic, handler, { pos = undefined } = {}) {
    if (typeof handler !== 'function') throw new TypeError('subscribe needs a handler function');
    if (this.stopped) {
      return Promise.reject(new ChannelError(this.state, `the client has stopped (${this.state})`, { ref: topic }));
    }
    if (typeof topic !== 'string' || !TOPIC_NAME.test(topic)) {
      return Promise.reject(new ChannelError('invalid_field', 'a topic is 1 to 200 characters of A-Z a-z 0-9 . _ - : @',
        { ref: topic }));
    }
    const existing = this.subscriptions.get(topic);
    if (existing) { existing.handler = handler; return existing.promise; }
    const start = typeof pos === 'string' && pos !== '' ? pos : this.loadPosition(topic);
    const sub = new Subscription(topic, handler, start);
    if (start !== null) this.storePosition(topic, start);
    this.subscriptions.set(topic, sub);
    if (this.state === 'connected') this.writeSub(sub);
    return sub.promise;
  }

  /**
   * Ends the subscription to `topic`: its handler gets no notice from now on, and its stored position is forgotten
   * (a later `subscribe` starts with new messages). Never rejects: resolves when the edge confirmed it (or said it
   * had no such subscription), when the connection is lost first, or at once when not connected (the next connection
   * does not subscribe it) or not subscribed. A `subscribe` still waiting for its answer rejects with `unsubscribed`.
   */
  unsubscribe(topic) {
    const sub = this.subscriptions.get(topic);
    if (!sub) return Promise.resolve({ topic });
    this.endSubscription(sub, new ChannelError('unsubscribed', `unsubscribed from ${topic} before the edge answered`,
      { ref: topic }));
    this.storePosition(topic, null);
    if (this.state !== 'connected') return Promise.resolve({ topic });
    return new Promise((resolve) => {
      this.topicRequest(topic, { kind: 'unsub', resolve });
      this.write({ type: 'unsub', topic });
    });
  }

  /** The last position processed for `topic` (of its subscription, else the stored one), or null. */
  position(topic) {
    return this.subscriptions.get(topic)?.pos ?? this.loadPosition(topic);
  }

  /** Closes the connection and stops reconnecting; pending sends are rejected with `closed`. */
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.opening = null;
    this.endRefresh();
    const socket = this.socket;
    this.socket = null;
    if (socket) { detach(socket); try { socket.close(1000); } catch { /* already closing */ } }
    this.rejectPending('closed', 'the client was closed before the ack');
    this.endTopics('closed');
    this.setState('closed', {});
  }

  /** Rejects every send still waiting for an ack: after a stop nothing would send them again. */
  rejectPending(code, text) {
    const entries = [...this.pending];
    this.pending.clear();
    for (const [id, entry] of entries) {
      clearTimeout(entry.timer);
      entry.reject(new ChannelError(code, text, { ref: id }));
    }
  }

  // --- connection ---

  /** Gets the hello's token first (the edge's hello deadline starts with the connection), then connects. */
  open() {
    if (this.stopped) return;
    this.retryTimer = null;
    const url = this.urls[this.urlIndex % this.urls.length];
    this.setState('connecting', { url, attempt: this.attempt });
    const opening = {};
    this.opening = opening;
    this.helloToken().then((token) => {
      if (this.opening !== opening || this.stopped) return;   // closed (and maybe started again) meanwhile
      this.opening = null;
      this.openSocket(url, token);
    }, (error) => {
      if (this.opening !== opening || this.stopped) return;
      this.opening = null;
      this.emit('error', { error });
      this.tokenFailures += 1;
      this.retryIn(this.tokenRetryDelay(this.tokenFailures), { code: 0 });
    });
  }

  /** The token for the next hello: the fixed one, or a new one from `getToken` unless the edge refused it before. */
  async helloToken() {
    if (!this.getToken) return this.token;
    const token = await this.getToken();
    if (token === this.refusedToken) {
      throw new ChannelError('token_refused', 'getToken returned the token the edge refused (or that expired or was revoked)');
    }
    return token;
  }

  openSocket(url, token) {
    let socket;
    try {
      socket = new this.Socket(url, SUBPROTOCOL);
    } catch (error) {
      this.lost({ code: 0, reason: String(error) });
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.currentToken = token;
      socket.send(JSON.stringify({ type: 'hello', device: this.device, token }));
    };
    socket.onmessage = (event) => this.received(socket, event.data);
    socket.onclose = (event) => { if (this.socket === socket) this.lost(event); };
    socket.onerror = () => { /* a close event follows */ };
  }

  received(socket, data) {
    if (this.socket !== socket || typeof data !== 'string') return;
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    switch (frame.type) {
      case 'welcome':
        this.welcome = frame;
        this.attempt = 0;
        this.tokenFailures = 0;
        this.drainDelayMs = null;
        this.startRefresh(socket, typeof frame.exp === 'number' ? frame.exp : null);
        // Resume, in send order, same ids, before announcing 'connected': a send made by a 'state' listener is then
        // written once, after the older ones. The snapshot keeps the loop from seeing sends added meanwhile.
        for (const entry of [...this.pending.values()]) this.writePending(entry);
        // Subscriptions too, each naming its last processed position, so the edge replays what came meanwhile.
        for (const sub of this.subscriptions.values()) this.writeSub(sub);
        this.setState('connected', { edge: frame.edge, session: frame.session });
        break;
      case 'ack': {
        const entry = this.pending.get(frame.id);
        if (entry) { this.pending.delete(frame.id); clearTimeout(entry.timer); entry.resolve(frame.id); }
        break;
      }
      case 'error': this.refused(frame); break;
      case 'reconnect': this.drainDelayMs = Number(frame.delay) || 0; break;
      case 'msg': this.deliver(socket, frame); break;
      case 'event': case 'gap': this.topicNotice(frame); break;
      case 'subscribed': this.topicAnswered(frame.topic, null, 'sub'); break;
      case 'unsubscribed': this.topicAnswered(frame.topic, null, 'unsub'); break;
      case 'refresh_due': this.refreshDue(socket, frame.exp); break;
      case 'refreshed': this.refreshAnswered(socket, frame.exp, null); break;
      default: break;
    }
  }

  refused(frame) {
    const error = new ChannelError(frame.code, frame.message, { retryable: frame.retryable === true, ref: frame.ref });
    // Only a refused `refresh` gets auth_failed with this ref (a message never does).
    if (frame.code === 'auth_failed' && frame.ref === REFRESH_REF && this.refresh?.inFlight?.token) {
      this.refreshAnswered(this.socket, null, error);
      return;
    }
    // A topic's error, for a pending sub/unsub or for a subscription made again after a reconnect; a message's errors
    // never use these codes with a ref.
    if (TOPIC_ERRORS.has(frame.code) && (this.topicRequests.has(frame.ref) || this.subscriptions.has(frame.ref))) {
      this.topicAnswered(frame.ref, error, null);
      return;
    }
    const entry = frame.ref === undefined ? undefined : this.pending.get(frame.ref);
    if (!entry) { this.emit('error', { error }); return; }
    if (error.retryable) {
      // The edge could not hand it to the broker now: resend the same id after a pause, if still connected, and
      // unless a reconnect has written it again meanwhile (that copy gets its own ack or refusal).
      const writes = entry.writes;
      setTimeout(() => {
        if (this.pending.get(frame.ref) === entry && entry.writes === writes && this.state === 'connected') {
          this.writePending(entry);
        }
      }, this.backoff(1));
      return;
    }
    this.pending.delete(frame.ref);
    clearTimeout(entry.timer);
    entry.reject(error);
  }

  deliver(socket, frame) {
    const ack = () => { if (this.socket === socket && this.state === 'connected') this.write({ type: 'ack', id: frame.id }); };
    if (this.seen.has(frame.id)) { ack(); return; }
    const first = this.inFlight.get(frame.id);
    if (first) {
      // A repeat (e.g. redelivered on a new connection) while the first copy's handler works: ack it only if that
      // handler succeeds. If it fails, the message must stay unacked so that it comes again.
      first.then(ack, () => { /* reported by the first copy; not acked */ });
      return;
    }
    const message = { service: frame.service, id: frame.id };
    let body;
    if ('data' in frame) { body = fromBase64(frame.data); message.data = body; } else { body = frame.body; message.body = body; }
    const handler = this.handlers.get(frame.service) ?? this.handlers.get('*');
    if (!handler) {
      this.seen.add(frame.id);
      this.emit('unhandled', { message });
      ack();
      return;
    }
    // Only a completed handler puts the id in `seen`; a failed one leaves it out, so the redelivery is handled.
    const done = () => { this.seen.add(frame.id); ack(); };
    const failed = (error) => this.emit('error', { error, message });
    let result;
    try {
      result = handler(body, message);
    } catch (error) {
      failed(error);
      return;
    }
    if (!result || typeof result.then !== 'function') { done(); return; }
    const running = Promise.resolve(result);
    this.inFlight.set(frame.id, running);
    running.then(() => { this.inFlight.delete(frame.id); done(); },
      (error) => { this.inFlight.delete(frame.id); failed(error); });
  }

  lost(event) {
    const code = event?.code ?? 0;
    if (this.socket) detach(this.socket);
    this.socket = null;
    this.welcome = null;
    this.endRefresh();
    this.connectionGone();
    if (this.stopped) return;
    if (code === REPLACED) { this.stop('replaced', { code }); return; }
    if (code === PROTOCOL_VIOLATION || (NEEDS_TOKEN.has(code) && !this.getToken)) {
      this.stop('failed', { code, reason: event?.reason });
      return;
    }
    this.urlIndex += 1;
    if (NEEDS_TOKEN.has(code)) {
      // The next hello needs another token. A refused one also backs off: getToken may keep giving tokens the edge
      // refuses.
      this.refusedToken = this.currentToken;
      if (code === AUTH_FAILED) {
        this.tokenFailures += 1;
        this.retryIn(this.tokenRetryDelay(this.tokenFailures), { code });
        return;
      }
    }
    // A `reconnect` frame before the close (a drain, 4005, or an operator's disconnect, 4010 by default) says when.
    const delay = this.drainDelayMs !== null ? this.drainDelayMs : this.backoff(this.attempt);
    this.drainDelayMs = null;
    this.attempt += 1;
    this.retryIn(delay, { code });
  }

  /** Waits `delay` ms (state `waiting`), then connects again. */
  retryIn(delay, detail) {
    this.setState('waiting', { ...detail, delay });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Stops for good: reconnecting cannot help. Stopped before the state event, so a listener's `send` rejects. */
  stop(state, detail) {
    this.stopped = true;
    this.rejectPending(state, `the client stopped (${state}) before the ack`);
    this.endTopics(state);
    this.setState(state, detail);
  }

  // --- token refresh ---

  /** A new connection: refresh its token before `exp` (when the edge said it and the token can be renewed). */
  startRefresh(socket, exp) {
    this.endRefresh();
    this.tokenExpiresAt = exp;
    if (!this.getToken) return;
    this.refresh = { socket, failures: 0, timer: null, nextAt: null, inFlight: null };
    if (exp !== null) this.planRefresh(this.refreshFallbackAt(exp, Date.now() / 1000));
  }

  /** The connection ended: no refresh of its token any more. */
  endRefresh() {
    if (this.refresh) clearTimeout(this.refresh.timer);
    this.refresh = null;
    this.tokenExpiresAt = null;
  }

  /** Sets the refresh timer for `at` (Unix seconds; null: none). */
  planRefresh(at) {
    const refresh = this.refresh;
    clearTimeout(refresh.timer);
    refresh.nextAt = at;
    refresh.timer = at === null ? null
      : setTimeout(() => { if (this.refresh === refresh) this.refreshNow(); }, Math.max(0, at * 1000 - Date.now()));
  }

  /** The edge's `refresh_due`: refresh now, unless it is about a token already replaced, or a retry is planned. */
  refreshDue(socket, exp) {
    const refresh = this.refresh;
    if (!refresh || refresh.socket !== socket || typeof exp !== 'number') return;
    if (this.tokenExpiresAt !== null && exp < this.tokenExpiresAt) return;
    this.tokenExpiresAt = exp;
    if (refresh.failures > 0 && refresh.nextAt !== null && Date.now() / 1000 < refresh.nextAt) return;
    this.refreshNow();
  }

  /** Gets a token and sends `refresh`; one at a time. */
  async refreshNow() {
    const refresh = this.refresh;
    if (!refresh || refresh.inFlight) return;
    refresh.inFlight = 'getting';
    let token;
    try {
      token = await this.getToken();
      if (token === this.currentToken) throw new ChannelError('token_in_use', 'getToken returned the token the connection already has');
    } catch (error) {
      if (this.refresh !== refresh) return;   // the connection ended meanwhile
      refresh.inFlight = null;
      this.refreshFailed(error);
      return;
    }
    if (this.refresh !== refresh) return;
    refresh.inFlight = { token };
    this.write({ type: 'refresh', token });
  }

  /** The edge's answer to `refresh`: `refreshed` with the new `exp`, or `error` (auth_failed). */
  refreshAnswered(socket, exp, error) {
    const refresh = this.refresh;
    if (!refresh || refresh.socket !== socket || !refresh.inFlight?.token) return;
    const { token } = refresh.inFlight;
    refresh.inFlight = null;
    if (error) { this.refreshFailed(error); return; }
    this.currentToken = token;   // in force from now on, whatever its exp
    if (typeof exp !== 'number' || (this.tokenExpiresAt !== null && exp <= this.tokenExpiresAt)) {
      this.refreshFailed(new ChannelError('token_not_newer', `the new token expires at ${exp}, no later than the old one`));
      return;
    }
    this.tokenExpiresAt = exp;
    refresh.failures = 0;
    this.planRefresh(this.refreshFallbackAt(exp, Date.now() / 1000));
    this.emit('refreshed', { exp });
  }

  refreshFailed(error) {
    const refresh = this.refresh;
    refresh.failures += 1;
    this.emit('error', { error, refresh: true });
    this.planRefresh(Date.now() / 1000 + this.tokenRetryDelay(refresh.failures) / 1000);
  }

  /**
   * When to refresh if the edge's `refresh_due` does not come (Unix seconds): halfway between when the edge sends it
   * (60 s before `exp`, or a fifth of what remains if shorter, at least 1 s) and `exp`. Null when this clock already
   * says the token expired: the edge's `refresh_due`, sent at once then, starts the refresh.
   */
  refreshFallbackAt(exp, now) {
    const remaining = exp - now;
    if (remaining <= 0) return null;
    return exp - Math.min(60, Math.max(1, remaining / 5)) / 2;
  }

  /** The wait (ms) after `failures` failures to get or refresh a token: half to all of 1 s × 2^(failures−1), ≤ 30 s. */
  tokenRetryDelay(failures) {
    const bound = Math.min(30000, 1000 * 2 ** Math.min(Math.max(failures, 1) - 1, 20));
    return Math.floor(bound / 2 + Math.random() * (bound / 2));
  }

  // --- topics ---

  writeSub(sub) {
    const frame = { type: 'sub', topic: sub.topic };
    if (sub.pos !== null) frame.pos = sub.pos;
    sub.sentPos = sub.pos;
    this.topicRequest(sub.topic, { kind: 'sub', sub, pos: sub.pos });
    this.write(frame);
  }

  topicRequest(topic, request) {
    const list = this.topicRequests.get(topic);
    if (list) list.push(request); else this.topicRequests.set(topic, [request]);
  }

  /** Removes and returns the oldest request of `topic` on this connection of `kind`, if any. */
  takeRequest(topic, kind) {
    const list = this.topicRequests.get(topic);
    const index = list ? list.findIndex((r) => r.kind === kind) : -1;
    if (index < 0) return undefined;
    const [request] = list.splice(index, 1);
    if (list.length === 0) this.topicRequests.delete(topic);
    return request;
  }

  /**
   * An answer about `topic`: `subscribed`/`unsubscribed` (`error` null) or a refusal. Each goes to the oldest
   * request of the kind it answers: `unsubscribed` and `not_subscribed` to an unsub, the rest to a sub. The edge
   * answers a position beyond the end of its stream with `bad_position` instead of `subscribed` (after waiting up to
   * 2 s for its feed); one with no request left (a sub written again after a reconnect) applies to the subscription.
   */
  topicAnswered(topic, error, kind) {
    if (kind === 'unsub' || error?.code === 'not_subscribed') {
      const request = this.takeRequest(topic, 'unsub');
      // not_subscribed: the edge had no such subscription (say, its sub was refused), which is what was asked for.
      if (request) request.resolve({ topic }); else if (error) this.emit('error', { error, topic });
      return;
    }
    const badPosition = error?.code === 'bad_position';
    const request = this.takeRequest(topic, 'sub');
    const sub = request ? request.sub : this.subscriptions.get(topic);
    // Unsubscribed meanwhile (the unsub's answer follows), or an answer to nothing this client asked.
    if (!sub || this.subscriptions.get(topic) !== sub || (!request && !badPosition)) return;
    if (!error) { sub.settle(null, { topic, pos: request.pos }); return; }
    if (badPosition && (request ? request.pos : sub.sentPos) !== null) {
      // The position cannot be resumed (for example the cluster's topic stream was reset since it was stored): say
      // that what was missed is unknown, then subscribe again without one, for new messages.
      sub.pos = null;
      this.storePosition(topic, null);
      sub.queue.push({ type: 'gap', topic, pos: null });
      this.drainTopic(sub);
      if (this.state === 'connected') this.writeSub(sub);
      return;
    }
    if (sub.settled) this.emit('error', { error, topic });   // a subscription made again after a reconnect
    this.endSubscription(sub, error);
  }

  /** An `event` or `gap` frame: queued for its subscription's handler unless it repeats a known position. */
  topicNotice(frame) {
    const sub = this.subscriptions.get(frame.topic);
    // Not subscribed (any more): unsubscribe promised that the handler gets nothing after it.
    if (!sub || typeof frame.pos !== 'string') return;
    if (frame.pos === sub.pos || sub.queued.has(frame.pos)) return;   // replayed after a reconnect, already had
    let notice;
    if (frame.type === 'gap') {
      notice = { type: 'gap', topic: frame.topic, pos: frame.pos };
    } else {
      notice = { type: 'event', topic: frame.topic, pos: frame.pos, from: frame.from };
      if ('data' in frame) notice.data = fromBase64(frame.data); else notice.body = frame.body;
    }
    sub.queued.add(frame.pos);
    sub.queue.push(notice);
    this.drainTopic(sub);
  }

  /** Hands a topic's queued notices to its handler, one at a time: an async handler holds back the next one. */
  drainTopic(sub) {
    while (!sub.busy && !sub.ended && sub.queue.length > 0) {
      const notice = sub.queue.shift();
      let result;
      try {
        result = sub.handler(notice);
      } catch (error) {
        this.emit('error', { error, event: notice });
      }
      if (result && typeof result.then === 'function') {
        sub.busy = true;
        Promise.resolve(result)
          .catch((error) => this.emit('error', { error, event: notice }))
          .then(() => { sub.busy = false; this.processed(sub, notice); this.drainTopic(sub); });
        return;
      }
      this.processed(sub, notice);
    }
  }

  processed(sub, notice) {
    sub.queued.delete(notice.pos);
    if (sub.ended || notice.pos === null) return;   // unsubscribed meanwhile: its position was forgotten
    sub.pos = notice.pos;
    this.storePosition(sub.topic, notice.pos);
  }

  endSubscription(sub, error) {
    sub.ended = true;
    sub.queue = [];
    if (this.subscriptions.get(sub.topic) === sub) this.subscriptions.delete(sub.topic);
    sub.settle(error);
  }

  /** The connection is gone, so no answer to its sub/unsub frames will come. */
  connectionGone() {
    const requests = [...this.topicRequests];
    this.topicRequests.clear();
    // A new connection starts with no subscription but those written after its welcome, so an unsub is done; a
    // sub's promise waits for the answer to the sub the next welcome writes.
    for (const [topic, list] of requests) for (const r of list) if (r.kind === 'unsub') r.resolve({ topic });
  }

  /** Stopped for good: subscriptions end (their positions stay stored, so subscribing again later resumes). */
  endTopics(state) {
    this.connectionGone();
    for (const sub of [...this.subscriptions.values()]) {
      this.endSubscription(sub, new ChannelError(state, `the client stopped (${state})`, { ref: sub.topic }));
    }
  }

  positionKey(topic) {
    // Neither device ids nor topic names contain '/', so the key is unambiguous.
    return `cg.pos/${this.device}/${topic}`;
  }

  loadPosition(topic) {
    try {
      const pos = this.storage?.getItem(this.positionKey(topic));
      return typeof pos === 'string' && pos !== '' ? pos : null;
    } catch {
      return null;   // storage refused (privacy settings): positions live in memory only
    }
  }

  storePosition(topic, pos) {
    try {
      if (pos === null) this.storage?.removeItem(this.positionKey(topic));
      else this.storage?.setItem(this.positionKey(topic), pos);
    } catch { /* full or refused: the position lives in memory only */ }
  }

  /** Full jitter: a random wait of up to min(max, min × 2^attempt). */
  backoff(attempt) {
    const cap = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(attempt, 20));
    return Math.floor(Math.random() * cap);
  }

  /** Writes a pending send, counting the writes so that a delayed resend can tell whether it was sent since. */
  writePending(entry) {
    entry.writes += 1;
    this.write(entry.frame);
  }

  write(frame) {
    try { this.socket?.send(JSON.stringify(frame)); } catch { /* the close event will follow */ }
  }

  setState(state, detail) {
    this.state = state;
    this.emit('state', { state, ...detail });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEventLike(type, detail));
  }
}

/** One topic subscription: its handler, last processed position, and the notices waiting for the handler. */
class Subscription {
  constructor(topic, handler, pos) {
    this.topic = topic;
    this.handler = handler;
    this.pos = pos;               // the last position processed, or null
    this.sentPos = null;          // the position the last sub frame named
    this.queue = [];              // notices waiting for the handler
    this.queued = new Set();      // their positions (and the one being handled), to drop replays of them
    this.busy = false;            // an async handler runs
    this.ended = false;
    this.settled = false;
    this.promise = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    // A subscribe whose promise nobody awaits must not become an unhandled rejection when it ends.
    this.promise.catch(() => {});
  }

  settle(error, value) {
    if (this.settled) return;
    this.settled = true;
    if (error) this.reject(error); else this.resolve(value);
  }
}

/** A bounded set of the most recently seen ids. */
class RecentIds {
  constructor(capacity) { this.capacity = capacity; this.ids = new Set(); }
  has(id) { return this.ids.has(id); }
  add(id) {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value);
  }
  delete(id) { this.ids.delete(id); }
}

// CustomEvent exists in browsers and Node 19+; Event with a detail property elsewhere.
class CustomEventLike extends Event {
  constructor(type, detail) { super(type); this.detail = detail; }
}

// sessionStorage keeps positions across reloads of this tab; reading it throws where the page may not use storage.
function sessionStorageIfAny() {
  try { return globalThis.sessionStorage ?? null; } catch { return null; }
}

function detach(socket) {
  socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
}

function randomId() {
  const bytes = new Uint8Array(6);
  // Only distinguishes this client's ids from another page's; a runtime without Web Crypto falls back to Math.random.
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('');
}

function toBase64(bytes) {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}
