// Unit tests of the JavaScript client's own logic, against a scripted WebSocket (node --test clients/js/test).
// The client against a real gateway is tested in the browser (Tests/browser/demo_test.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelClient, ChannelError } from '../channel-client.js';

/** A WebSocket whose peer is the test: it records what the client sends and lets the test answer. */
class ScriptedSocket {
  static all = [];
  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    this.sent = [];
    this.closedWith = null;
    ScriptedSocket.all.push(this);
    queueMicrotask(() => this.onopen?.());
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code) { this.closedWith = code; }
  // The edge's side.
  frame(object) { this.onmessage?.({ data: JSON.stringify(object) }); }
  drop(code = 1006) { this.onclose?.({ code }); }
  frames(type) { return this.sent.filter((f) => f.type === type); }
}

/** sessionStorage's interface over a Map, so that tests can look into it and share it between clients (a reload). */
class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
  removeItem(key) { this.items.delete(key); }
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition, what, ms = 2000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

function client(options = {}) {
  ScriptedSocket.all = [];
  const c = new ChannelClient({ url: ['ws://a/v1/channel', 'ws://b/v1/channel'], device: 'd-1', token: 't', minBackoffMs: 1,
    maxBackoffMs: 4, WebSocket: ScriptedSocket, storage: new MemoryStorage(), ...options });
  c.tokenRetryDelay = (failures) => failures;   // 1 s doubling in real life; a few ms here
  return c;
}

/** What `promise` came to within `ms`: `{ value }`, `{ error }`, or 'still pending'. */
function outcome(promise, ms = 50) {
  const settled = promise.then((value) => ({ value }), (error) => ({ error }));
  return Promise.race([settled, tick(ms).then(() => 'still pending')]);
}

/** Waits for the client's next connection to say hello, welcomes it, and returns its socket. */
async function reconnected() {
  const count = ScriptedSocket.all.length + 1;
  await until(() => ScriptedSocket.all.length === count && ScriptedSocket.all.at(-1).frames('hello').length === 1,
    'a reconnect');
  const socket = ScriptedSocket.all.at(-1);
  socket.frame({ type: 'welcome', edge: 'e', session: `s${count}`, heartbeat: 25 });
  return socket;
}

async function connected(c) {
  const welcomed = c.connect();
  await until(() => ScriptedSocket.all.at(-1)?.frames('hello').length === 1, 'hello');
  const socket = ScriptedSocket.all.at(-1);
  socket.frame({ type: 'welcome', edge: 'e', session: `s${ScriptedSocket.all.length}`, heartbeat: 25 });
  await welcomed;
  return socket;
}

test('says hello with the token the function returns, in the JSON subprotocol', async () => {
  const c = client({ token: async () => 'fresh-token' });
  const socket = await connected(c);
  assert.equal(socket.protocol, 'channel.v1.json');
  assert.deepEqual(socket.frames('hello'), [{ type: 'hello', device: 'd-1', token: 'fresh-token' }]);
  assert.equal(c.state, 'connected');
  c.close();
});

test('send resolves on the ack of its id, and carries JSON as body and bytes as base64 data', async () => {
  const c = client();
  const socket = await connected(c);
  const json = c.send('echo', { hi: 1 });
  const bytes = c.send('echo', new Uint8Array([0, 1, 255]));
  const [first, second] = socket.frames('msg');
  assert.deepEqual(first.body, { hi: 1 });
  assert.equal(second.data, 'AAH/');
  assert.notEqual(first.id, second.id);
  socket.frame({ type: 'ack', id: second.id });
  socket.frame({ type: 'ack', id: first.id });
  assert.equal(await json, first.id);
  assert.equal(await bytes, second.id);
  c.close();
});

test('a refused message rejects with the edge\'s code; a retryable refusal is sent again with the same id', async () => {
  const c = client();
  const socket = await connected(c);
  const refused = c.send('chat', 1);
  const id = socket.frames('msg')[0].id;
  socket.frame({ type: 'error', code: 'unknown_service', message: 'no service named "chat"', ref: id, retryable: false });
  await assert.rejects(refused, (error) => error instanceof ChannelError && error.code === 'unknown_service');

  const retried = c.send('echo', 2);
  const retriedId = socket.frames('msg')[1].id;
  socket.frame({ type: 'error', code: 'unavailable', message: 'later', ref: retriedId, retryable: true });
  await until(() => socket.frames('msg').filter((f) => f.id === retriedId).length === 2, 'the resend');
  socket.frame({ type: 'ack', id: retriedId });
  assert.equal(await retried, retriedId);
  c.close();
});

test('a retryable refusal is not resent by its timer when a reconnect has sent the message again meanwhile', async () => {
  const c = client();
  const first = await connected(c);
  const sent = c.send('echo', 1);
  const id = first.frames('msg')[0].id;
  c.backoff = () => 40;   // the pause before the resend: long enough for the reconnect to come first
  first.frame({ type: 'error', code: 'unavailable', message: 'later', ref: id, retryable: true });
  delete c.backoff;
  first.drop(1006);
  const second = await reconnected();
  const copies = () => second.frames('msg').filter((f) => f.id === id).length;
  assert.equal(copies(), 1, 'resent after the welcome');
  await tick(80);
  assert.equal(copies(), 1, 'and not once more when the refusal\'s pause ends');
  second.frame({ type: 'ack', id });
  assert.equal(await sent, id);
  c.close();
});

test('sends made while disconnected, and sends unacked when the connection drops, go out after the next welcome', async () => {
  const c = client();
  const first = await connected(c);
  const unacked = c.send('echo', 'a');
  const unackedId = first.frames('msg')[0].id;
  first.drop(1006);
  const queued = c.send('echo', 'b');
  await until(() => ScriptedSocket.all.length === 2 && ScriptedSocket.all[1].frames('hello').length === 1, 'a reconnect');
  const second = ScriptedSocket.all[1];
  assert.equal(second.url, 'ws://b/v1/channel', 'the next URL is tried');
  assert.equal(second.frames('msg').length, 0, 'nothing is sent before welcome');
  second.frame({ type: 'welcome', edge: 'e2', session: 's2', heartbeat: 25 });
  const resent = second.frames('msg');
  assert.deepEqual(resent.map((f) => f.body), ['a', 'b'], 'in send order');
  assert.equal(resent[0].id, unackedId, 'with the same id');
  for (const f of resent) second.frame({ type: 'ack', id: f.id });
  await Promise.all([unacked, queued]);
  c.close();
});

test('pending sends are resent before the connected event, so a send made by a state listener goes out once, last', async () => {
  const c = client();
  const first = await connected(c);
  const unacked = c.send('echo', 'a');
  first.drop(1006);
  const queued = c.send('echo', 'b');
  let fromListener;
  c.addEventListener('state', (e) => { if (e.detail.state === 'connected') fromListener = c.send('echo', 'c'); });
  const second = await reconnected();
  assert.deepEqual(second.frames('msg').map((f) => f.body), ['a', 'b', 'c']);
  for (const f of second.frames('msg')) second.frame({ type: 'ack', id: f.id });
  await Promise.all([unacked, queued, fromListener]);
  c.close();
});

test('each message reaches its service\'s handler once per id and is acked after the handler; repeats are only acked', async () => {
  const c = client();
  const seen = [];
  c.on('echo', (body, message) => { seen.push([body, message.id]); });
  const socket = await connected(c);
  socket.frame({ type: 'msg', service: 'echo', id: 'm-1', body: { n: 1 } });
  socket.frame({ type: 'msg', service: 'echo', id: 'm-1', body: { n: 1 } });
  socket.frame({ type: 'msg', service: 'echo', id: 'm-2', data: 'AAH/' });
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[0], [{ n: 1 }, 'm-1']);
  assert.deepEqual([...seen[1][0]], [0, 1, 255]);
  assert.deepEqual(socket.frames('ack').map((f) => f.id), ['m-1', 'm-1', 'm-2']);
  c.close();
});

test('repeats are dropped across connections too', async () => {
  const c = client();
  let calls = 0;
  c.on('push', () => { calls += 1; });
  const first = await connected(c);
  first.frame({ type: 'msg', service: 'push', id: 'p-1', body: {} });
  first.drop(1001);
  await until(() => ScriptedSocket.all.length === 2 && ScriptedSocket.all[1].frames('hello').length === 1, 'a reconnect');
  const second = ScriptedSocket.all[1];
  second.frame({ type: 'welcome', edge: 'e', session: 's2', heartbeat: 25 });
  second.frame({ type: 'msg', service: 'push', id: 'p-1', body: {} });
  assert.equal(calls, 1);
  assert.deepEqual(second.frames('ack').map((f) => f.id), ['p-1']);
  c.close();
});

test('an async handler acks when it resolves; a failing handler leaves the message unacked for redelivery', async () => {
  const c = client();
  let release;
  let failures = 0;
  c.on('slow', () => new Promise((resolve) => { release = resolve; }));
  c.on('bad', (body) => { if (body.fail) throw new Error('handler broke'); });
  c.addEventListener('error', () => { failures += 1; });
  const socket = await connected(c);
  socket.frame({ type: 'msg', service: 'slow', id: 's-1', body: 1 });
  socket.frame({ type: 'msg', service: 'slow', id: 's-1', body: 1 });   // a repeat while the handler works
  assert.equal(socket.frames('ack').length, 0, 'neither is acked before the handler is done');
  release();
  await until(() => socket.frames('ack').length === 2, 'the acks after the handler');
  socket.frame({ type: 'msg', service: 'bad', id: 'b-1', body: { fail: true } });
  assert.equal(failures, 1);
  assert.equal(socket.frames('ack').filter((f) => f.id === 'b-1').length, 0);
  socket.frame({ type: 'msg', service: 'bad', id: 'b-1', body: { fail: false } });   // the redelivery
  assert.equal(socket.frames('ack').filter((f) => f.id === 'b-1').length, 1);
  c.close();
});

test('a repeat that arrives while the first copy\'s handler runs is acked only if that handler succeeds', async () => {
  const c = client();
  const handlers = [];
  const failures = [];
  c.on('slow', () => new Promise((resolve, reject) => { handlers.push({ resolve, reject }); }));
  c.addEventListener('error', (e) => failures.push(e.detail.error.message));
  const first = await connected(c);
  first.frame({ type: 'msg', service: 'slow', id: 'r-1', body: 1 });
  first.drop(1006);
  const second = await reconnected();
  second.frame({ type: 'msg', service: 'slow', id: 'r-1', body: 1 });   // redelivered: the first copy is unacked
  assert.equal(handlers.length, 1, 'not handled twice');
  assert.equal(second.frames('ack').length, 0, 'not acked while the first copy\'s handler works');
  handlers[0].reject(new Error('handler broke'));
  await tick(10);
  assert.deepEqual(failures, ['handler broke']);
  assert.equal(second.frames('ack').length, 0, 'not acked: the handler failed, so the message must come again');
  second.frame({ type: 'msg', service: 'slow', id: 'r-1', body: 1 });   // the next redelivery
  assert.equal(handlers.length, 2, 'is handled');
  handlers[1].resolve();
  await until(() => second.frames('ack').length === 1, 'the ack after the handler');
  c.close();
});

test('a draining edge\'s reconnect delay is honoured, then the next edge is tried', async () => {
  const c = client({ minBackoffMs: 1, maxBackoffMs: 2 });
  const first = await connected(c);
  const states = [];
  c.addEventListener('state', (e) => states.push(e.detail));
  first.frame({ type: 'reconnect', delay: 120 });
  const closedAt = Date.now();
  first.drop(4005);
  assert.deepEqual(states.at(-1), { state: 'waiting', code: 4005, delay: 120 });
  await until(() => ScriptedSocket.all.length === 2, 'a reconnect');
  assert.ok(Date.now() - closedAt >= 110, 'waited the delay the edge asked for');
  assert.equal(ScriptedSocket.all[1].url, 'ws://b/v1/channel');
  c.close();
});

test('an operator\'s disconnect (4010, or another code) after a reconnect frame waits its delay; without one, the backoff', async () => {
  const c = client({ minBackoffMs: 1, maxBackoffMs: 2 });
  const first = await connected(c);
  const states = [];
  c.addEventListener('state', (e) => states.push(e.detail));
  first.frame({ type: 'reconnect', delay: 120 });
  first.drop(4321);
  assert.deepEqual(states.at(-1), { state: 'waiting', code: 4321, delay: 120 });
  await until(() => ScriptedSocket.all.length === 2 && ScriptedSocket.all[1].frames('hello').length === 1, 'a reconnect');
  ScriptedSocket.all[1].frame({ type: 'welcome', edge: 'e', session: 's2', heartbeat: 25, maxMessageBytes: 65536 });
  await until(() => states.at(-1).state === 'connected', 'connected again');
  ScriptedSocket.all[1].drop(4010);
  assert.equal(states.at(-1).state, 'waiting');
  assert.ok(states.at(-1).delay < 2, 'no reconnect frame this time: the backoff');
  c.close();
});

test('stops for good when replaced (4004), and after 4001 with a fixed token; retries 4001 with a token function', async () => {
  const replaced = client();
  (await connected(replaced)).drop(4004);
  assert.equal(replaced.state, 'replaced');
  await tick(20);
  assert.equal(ScriptedSocket.all.length, 1);

  const fixed = client({ token: 'old' });
  (await connected(fixed)).drop(4001);
  assert.equal(fixed.state, 'failed');
  await tick(20);
  assert.equal(ScriptedSocket.all.length, 1);

  let minted = 0;
  const refreshing = client({ token: () => `new-${++minted}` });
  (await connected(refreshing)).drop(4001);
  await until(() => ScriptedSocket.all.length === 2, 'a reconnect with a new token');
  assert.deepEqual(ScriptedSocket.all[1].frames('hello').map((f) => f.token), ['new-2']);
  refreshing.close();
});

test('after a stop for good, pending sends reject with the state, and so do later sends at once', async () => {
  for (const [code, state, token] of [[4004, 'replaced', 't'], [4002, 'failed', 't'], [4001, 'failed', 'fixed']]) {
    const c = client({ token });
    const socket = await connected(c);
    const unacked = c.send('echo', 1);
    let fromListener;
    c.addEventListener('state', (e) => { if (e.detail.state === state) fromListener = c.send('echo', 2); });
    socket.drop(code);
    for (const promise of [unacked, fromListener, c.send('echo', 3)]) {
      const { error } = await outcome(promise);
      assert.ok(error instanceof ChannelError, `close ${code}: rejected, not left waiting`);
      assert.equal(error.code, state);
    }
  }
});

test('backoff is a random wait below min × 2^attempt, capped at the maximum', () => {
  const c = client({ minBackoffMs: 100, maxBackoffMs: 1000 });
  const random = Math.random;
  try {
    Math.random = () => 0.999;
    assert.equal(c.backoff(0), 99);
    assert.equal(c.backoff(2), 399);
    assert.equal(c.backoff(10), 999);
    Math.random = () => 0;
    assert.equal(c.backoff(5), 0);
  } finally {
    Math.random = random;
  }
});

test('close rejects what is still unacked and stops reconnecting', async () => {
  const c = client();
  const socket = await connected(c);
  const pending = c.send('echo', 1);
  c.close();
  await assert.rejects(pending, (error) => error.code === 'closed');
  assert.equal(socket.closedWith, 1000);
  await tick(20);
  assert.equal(ScriptedSocket.all.length, 1);
});

test('sending an id that is still waiting for its ack shares that send instead of writing it again', async () => {
  const c = client();
  const socket = await connected(c);
  const first = c.send('push', { op: 'subscribe' }, { id: 'subscribe-d-1' });
  const again = c.send('push', { op: 'subscribe' }, { id: 'subscribe-d-1' });
  assert.equal(socket.frames('msg').length, 1);
  socket.frame({ type: 'ack', id: 'subscribe-d-1' });
  assert.deepEqual(await Promise.all([first, again]), ['subscribe-d-1', 'subscribe-d-1']);
  c.close();
});

// --- topics ---

/** Answers every `sub` the socket got that is not answered yet with `subscribed`. */
function confirmSubs(socket) {
  socket.answered ??= 0;
  for (const f of socket.sent.filter((f) => f.type === 'sub' || f.type === 'unsub').slice(socket.answered)) {
    socket.frame({ type: f.type === 'sub' ? 'subscribed' : 'unsubscribed', topic: f.topic });
  }
  socket.answered = socket.sent.filter((f) => f.type === 'sub' || f.type === 'unsub').length;
}

test('subscribe sends sub after the welcome, resolves on subscribed, and hands events and gaps to the handler', async () => {
  const c = client();
  const notices = [];
  const subscribed = c.subscribe('news.sports', (n) => { notices.push(n); });
  const socket = await connected(c);
  assert.deepEqual(socket.frames('sub'), [{ type: 'sub', topic: 'news.sports' }], 'no pos: nothing processed yet');
  assert.equal(await outcome(subscribed), 'still pending', 'not before the edge confirmed');
  socket.frame({ type: 'subscribed', topic: 'news.sports' });
  assert.deepEqual(await subscribed, { topic: 'news.sports', pos: null });
  socket.frame({ type: 'event', topic: 'news.sports', pos: '0:7', from: 'push', body: { score: [1, 0] } });
  socket.frame({ type: 'event', topic: 'news.sports', pos: '0:8', from: 'push', data: 'AAH/' });
  socket.frame({ type: 'event', topic: 'news.weather', pos: '0:9', from: 'push', body: 'not subscribed' });
  socket.frame({ type: 'gap', topic: 'news.sports', pos: '0:20' });
  assert.deepEqual(notices[0], { type: 'event', topic: 'news.sports', pos: '0:7', from: 'push', body: { score: [1, 0] } });
  assert.equal(notices[1].from, 'push');
  assert.deepEqual([...notices[1].data], [0, 1, 255]);
  assert.deepEqual(notices[2], { type: 'gap', topic: 'news.sports', pos: '0:20' });
  assert.equal(notices.length, 3, 'a topic without a subscription reaches no handler');
  assert.equal(c.position('news.sports'), '0:20', 'a gap moves the position past what was missed');
  assert.equal(socket.frames('ack').length, 0, 'topic events are not acked');
  c.close();
});

test('after a reconnect the subscription is made again with the last position, and a replay of it is dropped', async () => {
  const c = client();
  const seen = [];
  c.subscribe('room', (n) => { seen.push(n.pos); });
  const first = await connected(c);
  confirmSubs(first);
  first.frame({ type: 'event', topic: 'room', pos: '2:40', from: 'chat', body: 1 });
  first.frame({ type: 'event', topic: 'room', pos: '2:41', from: 'chat', body: 2 });
  first.frame({ type: 'event', topic: 'room', pos: '2:41', from: 'chat', body: 2 });   // a repeat on one connection
  first.drop(1006);
  const second = await reconnected();
  assert.deepEqual(second.frames('sub'), [{ type: 'sub', topic: 'room', pos: '2:41' }]);
  confirmSubs(second);
  second.frame({ type: 'event', topic: 'room', pos: '2:41', from: 'chat', body: 2 });   // the edge resends the last one
  second.frame({ type: 'event', topic: 'room', pos: '2:42', from: 'chat', body: 3 });
  assert.deepEqual(seen, ['2:40', '2:41', '2:42']);
  // One made while connected goes out at once; a gap is then resumed after too.
  c.subscribe('other', () => {});
  assert.deepEqual(second.frames('sub').at(-1), { type: 'sub', topic: 'other' });
  confirmSubs(second);
  second.frame({ type: 'gap', topic: 'other', pos: '0:99' });
  second.drop(1001);
  const third = await reconnected();
  assert.deepEqual(third.frames('sub'), [{ type: 'sub', topic: 'room', pos: '2:42' }, { type: 'sub', topic: 'other', pos: '0:99' }]);
  c.close();
});

test('subscriptions are written before the connected event, so one made by its listener goes out once', async () => {
  const c = client();
  c.subscribe('a', () => {});
  c.addEventListener('state', (e) => { if (e.detail.state === 'connected') c.subscribe('b', () => {}); });
  const socket = await connected(c);
  assert.deepEqual(socket.frames('sub').map((f) => f.topic), ['a', 'b']);
  c.close();
});

test('positions persist in storage per device and topic, so a reloaded page resumes where it left off', async () => {
  const storage = new MemoryStorage();
  const before = client({ storage });
  before.subscribe('demo.broadcast', () => {});
  const socket = await connected(before);
  confirmSubs(socket);
  socket.frame({ type: 'event', topic: 'demo.broadcast', pos: '0:3', from: 'push', body: 'hi' });
  assert.equal(storage.getItem('cg.pos/d-1/demo.broadcast'), '0:3');
  before.close();

  const reloaded = client({ storage });   // the same tab's sessionStorage after a reload
  const other = client({ storage, device: 'd-2' });
  reloaded.subscribe('demo.broadcast', () => {});
  const again = await connected(reloaded);
  assert.deepEqual(again.frames('sub'), [{ type: 'sub', topic: 'demo.broadcast', pos: '0:3' }]);
  confirmSubs(again);
  reloaded.close();
  assert.equal(other.position('demo.broadcast'), null, 'another device has its own positions');

  // An explicit pos wins; unsubscribe forgets the position.
  const explicit = client({ storage });
  explicit.subscribe('demo.broadcast', () => {}, { pos: '0:1' });
  const third = await connected(explicit);
  assert.equal(third.frames('sub')[0].pos, '0:1');
  confirmSubs(third);
  const gone = explicit.unsubscribe('demo.broadcast');
  assert.deepEqual(third.frames('unsub'), [{ type: 'unsub', topic: 'demo.broadcast' }]);
  confirmSubs(third);
  assert.deepEqual(await gone, { topic: 'demo.broadcast' });
  assert.equal(storage.getItem('cg.pos/d-1/demo.broadcast'), null);
  explicit.close();

  // Storage that throws (a browser's privacy settings) leaves positions in memory only.
  const broken = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() {} };
  const memoryOnly = client({ storage: broken });
  memoryOnly.subscribe('t', () => {});
  const fourth = await connected(memoryOnly);
  confirmSubs(fourth);
  fourth.frame({ type: 'event', topic: 't', pos: '0:1', from: 'x', body: 1 });
  assert.equal(memoryOnly.position('t'), '0:1');
  memoryOnly.close();
});

test('an async handler holds back the topic\'s next event, and the position moves only once it settled', async () => {
  const c = client();
  const calls = [];
  const releases = [];
  const errors = [];
  c.subscribe('t', (n) => { calls.push(n.pos); return new Promise((resolve, reject) => releases.push({ resolve, reject })); });
  c.addEventListener('error', (e) => errors.push(e.detail));
  const first = await connected(c);
  confirmSubs(first);
  first.frame({ type: 'event', topic: 't', pos: '0:1', from: 'x', body: 1 });
  first.frame({ type: 'event', topic: 't', pos: '0:2', from: 'x', body: 2 });
  assert.deepEqual(calls, ['0:1'], 'one at a time');
  assert.equal(c.position('t'), null);
  // Reconnecting meanwhile resumes from the last processed position; the replay of the queued event is dropped.
  first.drop(1006);
  const second = await reconnected();
  assert.deepEqual(second.frames('sub'), [{ type: 'sub', topic: 't' }]);
  confirmSubs(second);
  second.frame({ type: 'event', topic: 't', pos: '0:1', from: 'x', body: 1 });
  second.frame({ type: 'event', topic: 't', pos: '0:2', from: 'x', body: 2 });
  releases[0].reject(new Error('handler broke'));
  await until(() => calls.length === 2, 'the next event');
  assert.equal(c.position('t'), '0:1', 'a failed handler still counts: topics have no redelivery');
  assert.equal(errors[0].error.message, 'handler broke');
  assert.equal(errors[0].event.pos, '0:1');
  releases[1].resolve();
  await until(() => c.position('t') === '0:2', 'the position after the second handler');
  assert.deepEqual(calls, ['0:1', '0:2'], 'no event twice');
  // Unsubscribed while a handler runs: the rest of the queue is dropped and the position stays forgotten.
  second.frame({ type: 'event', topic: 't', pos: '0:3', from: 'x', body: 3 });
  second.frame({ type: 'event', topic: 't', pos: '0:4', from: 'x', body: 4 });
  c.unsubscribe('t');
  releases[2].resolve();
  await tick(10);
  assert.deepEqual(calls, ['0:1', '0:2', '0:3']);
  assert.equal(c.position('t'), null);
  assert.equal(c.storage.getItem('cg.pos/d-1/t'), null);
  c.close();
});

test('a refused subscribe rejects with the edge\'s code and topic and is not made again; messages keep their own errors', async () => {
  const c = client();
  const socket = await connected(c);
  const forbidden = c.subscribe('secret', () => {});
  const tooMany = c.subscribe('one.more', () => {});
  const sent = c.send('echo', 1, { id: 'secret' });   // a message whose id happens to equal a topic
  // Each error goes to what its code answers, though the ref names both.
  socket.frame({ type: 'error', code: 'unknown_service', message: 'no', ref: 'secret', retryable: false });
  assert.equal((await outcome(sent)).error?.code, 'unknown_service');
  assert.equal(await outcome(forbidden), 'still pending', 'the subscribe is untouched by the message\'s error');
  socket.frame({ type: 'error', code: 'forbidden_topic', message: 'the token does not allow topic "secret"', ref: 'secret', retryable: false });
  socket.frame({ type: 'error', code: 'too_many_topics', message: 'at most 100 topics', ref: 'one.more', retryable: false });
  await assert.rejects(forbidden, (e) => e instanceof ChannelError && e.code === 'forbidden_topic' && e.ref === 'secret');
  await assert.rejects(tooMany, (e) => e.code === 'too_many_topics' && e.ref === 'one.more');
  // Names outside the rule are refused here, without a frame: the edge's error for them has no ref.
  for (const bad of ['', 'news.*', 'a'.repeat(201), 'news sports', 'room.>']) {
    await assert.rejects(c.subscribe(bad, () => {}), (e) => e.code === 'invalid_field');
  }
  assert.throws(() => c.subscribe('t'), TypeError);
  socket.drop(1006);
  const second = await reconnected();
  assert.deepEqual(second.frames('sub'), [], 'refused subscriptions are not made again');
  c.close();
});

test('a subscription refused after a reconnect ends and is reported as an error event', async () => {
  const c = client();
  const seen = [];
  c.subscribe('t', (n) => seen.push(n));
  c.addEventListener('error', (e) => seen.push(e.detail.error.code));
  const first = await connected(c);
  confirmSubs(first);
  first.drop(1006);
  const second = await reconnected();
  second.frame({ type: 'error', code: 'forbidden_topic', message: 'no longer', ref: 't', retryable: false });
  assert.deepEqual(seen, ['forbidden_topic']);
  second.frame({ type: 'event', topic: 't', pos: '0:1', from: 'x', body: 1 });
  assert.equal(seen.length, 1);
  c.close();
});

test('a refused position (bad_position) is forgotten: the handler gets a gap with pos null and the subscription is made anew', async () => {
  const storage = new MemoryStorage();
  storage.setItem('cg.pos/d-1/t', '0:500');   // from a cluster whose topic stream was since reset
  const c = client({ storage });
  const seen = [];
  const subscribed = c.subscribe('t', (n) => seen.push(n));
  const socket = await connected(c);
  assert.deepEqual(socket.frames('sub'), [{ type: 'sub', topic: 't', pos: '0:500' }]);
  socket.frame({ type: 'error', code: 'bad_position', message: 'beyond the end', ref: 't', retryable: false });
  assert.deepEqual(socket.frames('sub').at(-1), { type: 'sub', topic: 't' });
  assert.deepEqual(seen, [{ type: 'gap', topic: 't', pos: null }]);
  assert.equal(storage.getItem('cg.pos/d-1/t'), null);
  socket.frame({ type: 'subscribed', topic: 't' });
  assert.deepEqual(await subscribed, { topic: 't', pos: null });
  socket.frame({ type: 'event', topic: 't', pos: '0:2', from: 'x', body: 1 });
  assert.equal(storage.getItem('cg.pos/d-1/t'), '0:2');
  c.close();
});

test('a bad_position that comes after subscribed (a position beyond the end of the stream) also restarts without one', async () => {
  const storage = new MemoryStorage();
  storage.setItem('cg.pos/d-1/t', '2:999999');
  const c = client({ storage });
  const seen = [];
  const subscribed = c.subscribe('t', (n) => seen.push(n));
  c.subscribe('u', () => {}, { pos: 'garbage' });
  const socket = await connected(c);
  // As the edge answers: at once for t, the garbage position of u refused at once, then t's position found too far.
  socket.frame({ type: 'subscribed', topic: 't' });
  socket.frame({ type: 'error', code: 'bad_position', message: 'not a position', ref: 'u', retryable: false });
  socket.frame({ type: 'error', code: 'bad_position', message: 'beyond the end', ref: 't', retryable: false });
  assert.deepEqual(await subscribed, { topic: 't', pos: '2:999999' });
  assert.deepEqual(seen, [{ type: 'gap', topic: 't', pos: null }]);
  assert.deepEqual(socket.frames('sub').slice(2), [{ type: 'sub', topic: 'u' }, { type: 'sub', topic: 't' }]);
  assert.equal(storage.getItem('cg.pos/d-1/t'), null);
  socket.answered = 2;   // the first two were answered above
  confirmSubs(socket);
  socket.frame({ type: 'event', topic: 't', pos: '0:0', from: 'x', body: 1 });
  assert.equal(seen.length, 2);
  assert.equal(c.position('t'), '0:0');
  c.close();
});

test('unsubscribe stops the handler at once; offline it resolves at once; not_subscribed counts as done', async () => {
  const c = client();
  const seen = [];
  c.subscribe('t', (n) => seen.push(n.pos));
  const socket = await connected(c);
  confirmSubs(socket);
  const done = c.unsubscribe('t');
  socket.frame({ type: 'event', topic: 't', pos: '0:1', from: 'x', body: 1 });   // sent before the edge read the unsub
  assert.deepEqual(seen, []);
  assert.equal(await outcome(done), 'still pending');
  socket.frame({ type: 'unsubscribed', topic: 't' });
  await done;

  c.subscribe('u', () => {});
  const refused = c.unsubscribe('u');   // answered before its sub: the subscribe call rejects
  socket.frame({ type: 'error', code: 'forbidden_topic', message: 'no', ref: 'u', retryable: false });
  socket.frame({ type: 'error', code: 'not_subscribed', message: 'no', ref: 'u', retryable: false });
  assert.deepEqual(await refused, { topic: 'u' });
  assert.deepEqual(await c.unsubscribe('never'), { topic: 'never' }, 'nothing to do');

  c.subscribe('v', () => {});
  confirmSubs(socket);
  const pendingUnsub = c.unsubscribe('v');
  socket.drop(1006);
  assert.deepEqual(await pendingUnsub, { topic: 'v' }, 'the connection that had it is gone');
  const second = await reconnected();
  assert.deepEqual(second.frames('sub'), []);
  c.subscribe('w', () => {});
  second.drop(1006);
  assert.deepEqual(await c.unsubscribe('w'), { topic: 'w' });
  const third = await reconnected();
  assert.deepEqual(third.frames('sub'), [], 'an offline unsubscribe means the next connection does not subscribe');
  c.close();
});

test('a stop rejects subscribe calls still waiting with the state; subscribing after it rejects at once', async () => {
  const c = client();
  const socket = await connected(c);
  const waiting = c.subscribe('t', () => {});
  const unsubscribed = c.subscribe('u', () => {});
  c.unsubscribe('u');
  await assert.rejects(unsubscribed, (e) => e.code === 'unsubscribed');
  socket.drop(4004);
  await assert.rejects(waiting, (e) => e.code === 'replaced' && e.ref === 't');
  await assert.rejects(c.subscribe('t', () => {}), (e) => e.code === 'replaced');
  c.close();
});

// --- token refresh ---

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A getToken whose tokens are numbered, that fails while `failing` is set, and counts its calls. */
function tokenSource() {
  const source = { calls: 0, failing: false, next: 0 };
  source.get = async () => {
    source.calls += 1;
    if (source.failing) throw new Error('the token service is down');
    source.next += 1;
    return `tok-${source.next}`;
  };
  return source;
}

/** Connects and welcomes with `exp`; returns the socket. */
async function connectedWithExp(c, exp) {
  const welcomed = c.connect();
  await until(() => ScriptedSocket.all.at(-1)?.frames('hello').length === 1, 'hello');
  const socket = ScriptedSocket.all.at(-1);
  socket.frame({ type: 'welcome', edge: 'e', session: `s${ScriptedSocket.all.length}`, heartbeat: 25, exp });
  await welcomed;
  return socket;
}

test('on refresh_due the client gets a token and sends refresh; refreshed moves the expiry on', async () => {
  const tokens = tokenSource();
  const c = client({ getToken: tokens.get });
  const refreshed = [];
  c.addEventListener('refreshed', (e) => refreshed.push(e.detail.exp));
  const exp = nowSeconds() + 3600;
  const socket = await connectedWithExp(c, exp);
  assert.deepEqual(socket.frames('hello').map((f) => f.token), ['tok-1']);
  assert.equal(c.tokenExpiresAt, exp);
  socket.frame({ type: 'refresh_due', exp });
  await until(() => socket.frames('refresh').length === 1, 'a refresh');
  assert.deepEqual(socket.frames('refresh'), [{ type: 'refresh', token: 'tok-2' }]);
  socket.frame({ type: 'refresh_due', exp });   // the same warning again while the refresh is under way
  await tick(10);
  assert.equal(socket.frames('refresh').length, 1, 'one refresh at a time');
  socket.frame({ type: 'refreshed', exp: exp + 3600 });
  assert.equal(c.tokenExpiresAt, exp + 3600);
  assert.deepEqual(refreshed, [exp + 3600]);
  socket.frame({ type: 'refresh_due', exp });   // sent for the old token before the edge read the refresh
  await tick(10);
  assert.equal(socket.frames('refresh').length, 1, 'a refresh_due for a replaced token is stale');
  socket.frame({ type: 'refresh_due', exp: exp + 3600 });
  await until(() => socket.frames('refresh').length === 2, 'the next refresh');
  assert.equal(socket.frames('refresh')[1].token, 'tok-3');
  assert.equal(tokens.calls, 3);
  c.close();
});

test('without refresh_due the client refreshes by itself shortly before exp', async () => {
  const tokens = tokenSource();
  const c = client({ getToken: tokens.get });
  const now = Date.now() / 1000;
  // Halfway between the edge's warning (a fifth of what remains, at least 1 s) and exp.
  assert.equal(c.refreshFallbackAt(1000, 700), 970);
  assert.equal(c.refreshFallbackAt(1000, 995), 999.5);
  assert.equal(c.refreshFallbackAt(1000, 1000), null, 'already expired by this clock: only refresh_due starts it');
  const fallback = c.refreshFallbackAt;
  c.refreshFallbackAt = () => now + 0.05;
  const socket = await connectedWithExp(c, nowSeconds() + 60);
  await until(() => socket.frames('refresh').length === 1, 'a refresh with no refresh_due');
  c.refreshFallbackAt = fallback;
  c.close();
});

test('a refused refresh and a failing getToken are retried with backoff on the same connection', async () => {
  const tokens = tokenSource();
  const c = client({ getToken: tokens.get });
  const delays = [];
  c.tokenRetryDelay = (failures) => { delays.push(failures); return 20; };
  const errors = [];
  c.addEventListener('error', (e) => errors.push(e.detail));
  const exp = nowSeconds() + 30;
  const socket = await connectedWithExp(c, exp);
  socket.frame({ type: 'refresh_due', exp });
  await until(() => socket.frames('refresh').length === 1, 'a refresh');
  socket.frame({ type: 'error', code: 'auth_failed', message: 'refresh too often', ref: 'refresh', retryable: false });
  assert.equal(errors[0].error.code, 'auth_failed');
  assert.equal(errors[0].refresh, true);
  assert.equal(c.state, 'connected', 'the connection stays');
  socket.frame({ type: 'refresh_due', exp });   // during the backoff: the planned retry comes instead
  await tick(5);
  assert.equal(socket.frames('refresh').length, 1);
  tokens.failing = true;
  await until(() => tokens.calls === 3, 'the retry');
  await until(() => errors.length === 2, 'the failure reported');
  assert.equal(errors[1].error.message, 'the token service is down');
  tokens.failing = false;
  await until(() => socket.frames('refresh').length === 2, 'the next retry');
  assert.deepEqual(delays, [1, 2], 'the backoff grows with each failure');
  socket.frame({ type: 'refreshed', exp: exp + 60 });
  assert.equal(c.tokenExpiresAt, exp + 60);
  // A message still refers to its own error, even with the id "refresh".
  const sent = c.send('echo', 1, { id: 'refresh' });
  socket.frame({ type: 'error', code: 'unknown_service', message: 'no', ref: 'refresh', retryable: false });
  assert.equal((await outcome(sent)).error?.code, 'unknown_service');
  c.close();
});

test('a token equal to the one in use is not sent, and a refresh that gains nothing counts as a failure', async () => {
  let token = 'same';
  const c = client({ getToken: () => token });
  const errors = [];
  c.addEventListener('error', (e) => errors.push(e.detail.error.code));
  c.tokenRetryDelay = () => 30;
  const exp = nowSeconds() + 30;
  const socket = await connectedWithExp(c, exp);
  socket.frame({ type: 'refresh_due', exp });
  await until(() => errors.length === 1, 'the failure');
  assert.deepEqual(errors, ['token_in_use']);
  assert.equal(socket.frames('refresh').length, 0);
  token = 'other';
  await until(() => socket.frames('refresh').length === 1, 'the retry with a new token');
  socket.frame({ type: 'refreshed', exp });   // no later than before
  assert.deepEqual(errors, ['token_in_use', 'token_not_newer']);
  c.close();
});

test('a refresh answer from a connection that is gone does not apply to the next one', async () => {
  const tokens = tokenSource();
  const c = client({ getToken: tokens.get });
  const exp = nowSeconds() + 30;
  const first = await connectedWithExp(c, exp);
  first.frame({ type: 'refresh_due', exp });
  await until(() => first.frames('refresh').length === 1, 'a refresh');
  const late = first.onmessage;
  first.drop(1006);
  const welcomed = until(() => ScriptedSocket.all.length === 2 && ScriptedSocket.all[1].frames('hello').length === 1, 'a reconnect');
  await welcomed;
  const second = ScriptedSocket.all[1];
  second.frame({ type: 'welcome', edge: 'e', session: 's2', heartbeat: 25, exp: exp + 5 });
  late?.({ data: JSON.stringify({ type: 'refreshed', exp: exp + 999 }) });
  second.frame({ type: 'refreshed', exp: exp + 999 });   // an answer to nothing this connection asked
  assert.equal(c.tokenExpiresAt, exp + 5);
  c.close();
});

test('after 4008 or 4009 a new token is got before reconnecting, and the old one is never sent again', async () => {
  for (const code of [4008, 4009]) {
    const tokens = tokenSource();
    const c = client({ getToken: tokens.get });
    const first = await connected(c);
    assert.equal(first.frames('hello')[0].token, 'tok-1');
    first.frame({ type: 'error', code: code === 4008 ? 'token_expired' : 'revoked', message: 'x', retryable: false });
    first.drop(code);
    const second = await reconnected();
    assert.equal(second.frames('hello')[0].token, 'tok-2', `close ${code}`);
    c.close();
  }
  // getToken giving the expired token again: not sent; asked again with backoff until it gives another.
  let token = 'old';
  let calls = 0;
  const c = client({ getToken: () => { calls += 1; return token; } });
  const delays = [];
  c.tokenRetryDelay = (failures) => { delays.push(failures); return 5; };
  (await connected(c)).drop(4008);
  await until(() => calls >= 4, 'getToken asked again');
  assert.equal(ScriptedSocket.all.length, 1, 'no connection with the expired token');
  assert.deepEqual(delays.slice(0, 3), [1, 2, 3]);
  token = 'new';
  const next = await reconnected();
  assert.equal(next.frames('hello')[0].token, 'new');
  c.close();
});

test('a getToken that keeps failing is asked again with growing waits, without a connection, until it works', async () => {
  const tokens = tokenSource();
  tokens.failing = true;
  const c = client({ getToken: tokens.get });
  const states = [];
  c.addEventListener('state', (e) => states.push(e.detail));
  c.addEventListener('error', () => {});
  const delays = [];
  c.tokenRetryDelay = (failures) => { delays.push(failures); return 5 * failures; };
  c.connect().catch(() => {});
  await until(() => tokens.calls === 4, 'four attempts');
  assert.equal(ScriptedSocket.all.length, 0, 'no socket is opened without a token');
  assert.deepEqual(delays.slice(0, 3), [1, 2, 3]);
  assert.deepEqual(states.find((s) => s.state === 'waiting'), { state: 'waiting', code: 0, delay: 5 });
  tokens.failing = false;
  const socket = await until(() => ScriptedSocket.all.length === 1, 'a connection').then(() => ScriptedSocket.all[0]);
  await until(() => socket.frames('hello').length === 1, 'hello');
  socket.frame({ type: 'welcome', edge: 'e', session: 's', heartbeat: 25 });
  assert.equal(c.state, 'connected');
  // 4001 with getToken: the refused token is not sent again, and the next attempt waits the token backoff.
  delays.length = 0;
  socket.drop(4001);
  await until(() => ScriptedSocket.all.length === 2 && ScriptedSocket.all[1].frames('hello').length === 1, 'a reconnect');
  assert.deepEqual(delays, [1], 'the welcome reset the failures');
  assert.notEqual(ScriptedSocket.all[1].frames('hello')[0].token, socket.frames('hello')[0].token);
  // Closed while getToken runs: nothing connects afterwards.
  let release;
  c.getToken = () => new Promise((resolve) => { release = resolve; });
  ScriptedSocket.all[1].drop(1006);
  await until(() => release, 'getToken called');
  c.close();
  // Started again while the first call still runs: only the new call's token connects.
  const tokensAfter = [];
  c.getToken = () => new Promise((resolve) => tokensAfter.push(resolve));
  c.connect().catch(() => {});
  await until(() => tokensAfter.length === 1, 'getToken called again');
  release('late');
  await tick(10);
  assert.equal(ScriptedSocket.all.length, 2, 'the call from before the close connects nothing');
  tokensAfter[0]('fresh');
  await until(() => ScriptedSocket.all.length === 3 && ScriptedSocket.all[2].frames('hello').length === 1, 'the new connection');
  assert.equal(ScriptedSocket.all[2].frames('hello')[0].token, 'fresh');
  c.close();
});

test('a fixed token is never refreshed, and 4008 or 4009 stop the client', async () => {
  for (const code of [4008, 4009]) {
    const c = client({ token: 'fixed' });
    const exp = nowSeconds() + 2;
    const socket = await connectedWithExp(c, exp);
    socket.frame({ type: 'refresh_due', exp });
    await tick(10);
    assert.equal(socket.frames('refresh').length, 0);
    socket.drop(code);
    assert.equal(c.state, 'failed');
    await tick(20);
    assert.equal(ScriptedSocket.all.length, 1);
  }
  assert.throws(() => new ChannelClient({ url: 'ws://a', device: 'd' }), TypeError);
  assert.throws(() => new ChannelClient({ url: 'ws://a', device: 'd', getToken: 'not a function' }), TypeError);
});

test('token retries wait between half and all of 1 s doubling to 30 s', () => {
  const c = new ChannelClient({ url: 'ws://a', device: 'd', getToken: () => 't', WebSocket: ScriptedSocket, storage: null });
  const random = Math.random;
  try {
    Math.random = () => 0;
    assert.deepEqual([1, 2, 3, 5, 6, 7, 40].map((f) => c.tokenRetryDelay(f)), [500, 1000, 2000, 8000, 15000, 15000, 15000]);
    Math.random = () => 0.999999;
    assert.deepEqual([1, 2, 6].map((f) => c.tokenRetryDelay(f)), [999, 1999, 29999]);
  } finally {
    Math.random = random;
  }
});
