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
  return new ChannelClient({ url: ['ws://a/v1/channel', 'ws://b/v1/channel'], device: 'd-1', token: 't', minBackoffMs: 1,
    maxBackoffMs: 4, WebSocket: ScriptedSocket, ...options });
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

  const refreshing = client({ token: () => 'new' });
  (await connected(refreshing)).drop(4001);
  await until(() => ScriptedSocket.all.length === 2, 'a reconnect with a new token');
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
