// Channel Gateway's JavaScript client: one WebSocket per device, shared by every service.
// A dependency-free ES module for browsers and Node.js 18+ (Node.js 22+ and other runtimes with a global WebSocket
// need nothing more; older ones pass a WebSocket implementation as options.WebSocket).
// The protocol it speaks is docs/protocol.md (JSON encoding, subprotocol channel.v1.json); its API is docs/js-client.md.

const SUBPROTOCOL = 'channel.v1.json';

// Close codes after which reconnecting cannot help (docs/protocol.md, "Close codes").
const REPLACED = 4004;
const AUTH_FAILED = 4001;
const PROTOCOL_VIOLATION = 4002;
const DRAINING = 4005;

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
 *   edge's `reconnect` frame (drain); it stops for good after close 4004 (replaced) or 4002 (protocol violation),
 *   and after 4001 (auth failed) unless `token` is a function that can fetch a new token. Once it stopped, pending
 *   and new sends reject with the state it stopped in (`closed`, `replaced` or `failed`).
 */
export class ChannelClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string|string[]} options.url edge URL(s), e.g. `wss://edge.example.com/v1/channel`; tried in turn.
   * @param {string} options.device the device id the token was issued for.
   * @param {string|function(): (string|Promise<string>)} options.token a token, or a function returning one (called
   *   before every hello, so it can fetch a fresh one).
   * @param {number} [options.minBackoffMs=250] @param {number} [options.maxBackoffMs=30000]
   * @param {number} [options.dedupeWindow=4096] how many received ids are remembered to drop repeats.
   * @param {function} [options.WebSocket] a WebSocket constructor (defaults to the global one).
   */
  constructor({ url, device, token, minBackoffMs = 250, maxBackoffMs = 30000, dedupeWindow = 4096, WebSocket: Socket } = {}) {
    super();
    if (!url || !device || !token) throw new TypeError('ChannelClient needs url, device and token');
    this.urls = Array.isArray(url) ? [...url] : [url];
    this.device = device;
    this.token = token;
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
    if (!this.socket && !this.retryTimer) this.open();
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

  /** Closes the connection and stops reconnecting; pending sends are rejected with `closed`. */
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) { detach(socket); try { socket.close(1000); } catch { /* already closing */ } }
    this.rejectPending('closed', 'the client was closed before the ack');
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

  open() {
    if (this.stopped) return;
    this.retryTimer = null;
    const url = this.urls[this.urlIndex % this.urls.length];
    this.setState('connecting', { url, attempt: this.attempt });
    let socket;
    try {
      socket = new this.Socket(url, SUBPROTOCOL);
    } catch (error) {
      this.lost({ code: 0, reason: String(error) });
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.sayHello(socket);
    socket.onmessage = (event) => this.received(socket, event.data);
    socket.onclose = (event) => { if (this.socket === socket) this.lost(event); };
    socket.onerror = () => { /* a close event follows */ };
  }

  async sayHello(socket) {
    let token;
    try {
      token = typeof this.token === 'function' ? await this.token() : this.token;
    } catch (error) {
      this.emit('error', { error });
      try { socket.close(1000); } catch { /* closing */ }
      return;
    }
    if (this.socket === socket) socket.send(JSON.stringify({ type: 'hello', device: this.device, token }));
  }

  received(socket, data) {
    if (this.socket !== socket || typeof data !== 'string') return;
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    switch (frame.type) {
      case 'welcome':
        this.welcome = frame;
        this.attempt = 0;
        this.drainDelayMs = null;
        // Resume, in send order, same ids, before announcing 'connected': a send made by a 'state' listener is then
        // written once, after the older ones. The snapshot keeps the loop from seeing sends added meanwhile.
        for (const entry of [...this.pending.values()]) this.writePending(entry);
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
      default: break;
    }
  }

  refused(frame) {
    const error = new ChannelError(frame.code, frame.message, { retryable: frame.retryable === true, ref: frame.ref });
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
    if (this.stopped) return;
    if (code === REPLACED) { this.stop('replaced', { code }); return; }
    if (code === PROTOCOL_VIOLATION || (code === AUTH_FAILED && typeof this.token !== 'function')) {
      this.stop('failed', { code, reason: event?.reason });
      return;
    }
    this.urlIndex += 1;
    const delay = code === DRAINING && this.drainDelayMs !== null ? this.drainDelayMs : this.backoff(this.attempt);
    this.drainDelayMs = null;
    this.attempt += 1;
    this.setState('waiting', { code, delay });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Stops for good: reconnecting cannot help. Stopped before the state event, so a listener's `send` rejects. */
  stop(state, detail) {
    this.stopped = true;
    this.rejectPending(state, `the client stopped (${state}) before the ack`);
    this.setState(state, detail);
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
