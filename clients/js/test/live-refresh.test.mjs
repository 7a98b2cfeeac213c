// The JavaScript client's token refresh against a real edge. Skipped unless CG_LIVE_EDGE (an edge's ws:// URL) and
// CG_LIVE_GATEWAY (the `gateway` executable, which mints the tokens) are set, as
// Tests/IntegrationTests/ClientRefreshJSTests.swift does on its test cluster. Node.js before 22 needs
// --experimental-websocket for the global WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ChannelClient } from '../channel-client.js';

const edge = process.env.CG_LIVE_EDGE;
const gateway = process.env.CG_LIVE_GATEWAY;
const skip = !edge || !gateway ? 'needs CG_LIVE_EDGE and CG_LIVE_GATEWAY (a running cluster)' : false;

const run = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A getToken minting tokens that live `ttl` (`gateway token`), failing while `failing` is set; counts its calls. */
function tokens(device, ttl) {
  const source = { calls: 0, failing: false };
  source.get = async () => {
    source.calls += 1;
    if (source.failing) throw new Error('the token service is down');
    const { stdout } = await run(gateway, ['token', '--device', device, '--ttl', ttl]);
    return stdout.trim();
  };
  return source;
}

/** Records the client's events; `next(type, match)` waits for the next one of `type` that `match`es. */
function recorder(client) {
  const seen = { state: [], refreshed: [], error: [] };
  const read = { state: 0, refreshed: 0, error: 0 };
  for (const type of Object.keys(seen)) client.addEventListener(type, (e) => seen[type].push(e.detail));
  seen.next = async (type, match = () => true, ms = 30000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      while (read[type] < seen[type].length) {
        const detail = seen[type][read[type]++];
        if (match(detail)) return detail;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for a ${type} event`);
      await sleep(20);
    }
  };
  return seen;
}

/** An echo round trip: sends and waits for the echo service's reply. */
async function echo(client, replies, n) {
  const id = await client.send('echo', { n });
  const deadline = Date.now() + 10000;
  while (!replies.has(`echo-${id}`)) {
    if (Date.now() > deadline) throw new Error(`no echo of ${id}`);
    await sleep(20);
  }
}

/** A client for a new device whose tokens live 5 s, with its token source, event recorder and echo replies. */
function started(name) {
  const id = `${name}-${Math.floor(Math.random() * 2 ** 32)}`;
  const source = tokens(id, '5s');
  const client = new ChannelClient({ url: edge, device: id, getToken: source.get, storage: null });
  const replies = new Set();
  client.on('echo', (body, message) => { replies.add(message.id); });
  return { client, source, replies, events: recorder(client) };
}

test('tokens that live 5 s are refreshed on one connection that keeps working', { skip, timeout: 60000 }, async () => {
  const { client, source, replies, events } = started('js-refreshing');
  const welcome = await client.connect();
  assert.equal(typeof welcome.exp, 'number');
  // Each round trip notes how many refreshes preceded it: the connection must work between every two refreshes and
  // after the last, however slow a loaded machine makes each round trip.
  const seenAfter = new Set();
  const deadline = Date.now() + 40000;
  while (events.refreshed.length < 3 && Date.now() < deadline) {
    const before = events.refreshed.length;
    await echo(client, replies, seenAfter.size);
    seenAfter.add(before);
    await sleep(1000);
  }
  const after = events.refreshed.length;
  await echo(client, replies, after);
  seenAfter.add(after);
  assert.ok(events.refreshed.length >= 3, `refreshed ${events.refreshed.length} times; errors: ${JSON.stringify(events.error)}`);
  assert.deepEqual(events.state.filter((s) => s.state === 'connected').length, 1, 'one connection throughout');
  assert.equal(events.state.filter((s) => s.state === 'waiting').length, 0);
  assert.ok(client.tokenExpiresAt >= welcome.exp + 10, 'the expiry moved on');
  // Before the first and after the last; between them as the machine allows (one slow echo may span several).
  assert.ok(seenAfter.has(0) && seenAfter.has(after), `round trips after ${[...seenAfter]} refreshes`);
  assert.ok(source.calls <= 2 + events.refreshed.length, `${source.calls} tokens asked for`);
  client.close();
});

test('a failing getToken lets the edge close with 4008; the client comes back once it works', { skip, timeout: 90000 }, async () => {
  const { client, source, replies, events } = started('js-callback-fails');
  const first = await client.connect();
  source.failing = true;
  const lost = await events.next('state', (s) => s.state === 'waiting', 30000);
  assert.equal(lost.code, 4008);
  assert.ok(events.error.some((e) => e.refresh && e.error.message === 'the token service is down'), 'refreshes were tried');
  await sleep(4000);
  assert.ok(source.calls <= 12, `${source.calls} calls of a failing getToken: no spinning`);
  source.failing = false;
  const back = await events.next('state', (s) => s.state === 'connected', 45000);
  assert.notEqual(back.session, first.session);
  await echo(client, replies, 1);
  client.close();
});
