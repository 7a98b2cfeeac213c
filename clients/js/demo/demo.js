// The demo page: one ChannelClient, three services (echo, push, presence) and a topic (demo.broadcast). Served by
// `gateway dev`.
// State the browser test reads is mirrored in data- attributes (body[data-state], #presence li[data-online], ...).
import { ChannelClient } from '/channel-client.js';

const ROOM = 'demo';
const BROADCAST = 'demo.broadcast';
const $ = (id) => document.getElementById(id);

const log = (text) => {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').prepend(item);
  while ($('log').children.length > 60) $('log').lastChild.remove();
};

// Each tab is its own device (sessionStorage is per tab); ?device= chooses one.
function deviceId() {
  const asked = new URLSearchParams(location.search).get('device');
  if (asked) return asked;
  let id = sessionStorage.getItem('cg-demo-device');
  if (!id) {
    id = `web-${Math.random().toString(36).slice(2, 8)}`;
    sessionStorage.setItem('cg-demo-device', id);
  }
  return id;
}

async function main() {
  const device = deviceId();
  $('device').textContent = device;
  const config = await (await fetch('/demo/config')).json();
  const offers = new Set(config.services);
  // Each tab starts on a random edge and moves to the next one if it goes away.
  const start = Math.floor(Math.random() * config.edges.length);
  const urls = config.edges.map((_, i) => config.edges[(start + i) % config.edges.length]);
  // Called before every hello and whenever the edge says the token is due for a refresh.
  const getToken = async () => (await (await fetch(`/demo/token?device=${encodeURIComponent(device)}`)).json()).token;
  const client = new ChannelClient({ url: urls, device, getToken, maxBackoffMs: 5000 });
  window.channel = client;

  client.addEventListener('state', (event) => {
    const { state, edge, session, delay, code } = event.detail;
    document.body.dataset.state = state;
    $('state').textContent = state;
    if (state === 'connected') {
      $('where').textContent = `on ${edge}, session ${session}`;
      log(`connected to ${edge}`);
      onConnected();
    } else if (state === 'waiting') {
      log(`connection lost (${code}); reconnecting in ${delay} ms`);
    }
  });
  client.addEventListener('error', (event) => log(`error: ${event.detail.error?.message ?? event.detail.error}`));
  client.addEventListener('refreshed', (event) => log(`token refreshed, valid until ${new Date(event.detail.exp * 1000).toLocaleTimeString()}`));

  // --- echo ---
  const sentAt = new Map();
  client.on('echo', (body) => {
    const started = sentAt.get(body?.n);
    if (started === undefined) return;
    sentAt.delete(body.n);
    const ms = (performance.now() - started).toFixed(1);
    $('echo-result').textContent = `"${body.text}" came back in ${ms} ms`;
    $('echo-result').dataset.rtt = ms;
    $('echo-result').dataset.text = body.text;
    log(`echo round trip ${ms} ms`);
  });
  let echoes = 0;
  $('echo-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const n = ++echoes;
    sentAt.set(n, performance.now());
    try {
      await client.send('echo', { n, text: $('echo-text').value });
    } catch (error) {
      $('echo-result').textContent = `not sent: ${error.message}`;
    }
  });

  // --- push ---
  let endpoint = sessionStorage.getItem(`cg-demo-push-${device}`);
  const showEndpoint = () => {
    $('push-endpoint').textContent = endpoint ?? (offers.has('push') ? 'subscribing…' : 'push service not running');
    $('push-send').disabled = !endpoint;
  };
  showEndpoint();
  client.on('push', (body) => {
    if (body.op === 'subscribed') {
      endpoint = body.endpoint;
      sessionStorage.setItem(`cg-demo-push-${device}`, endpoint);
      showEndpoint();
      log('push subscription ready');
    } else if (body.op === 'notification') {
      const item = document.createElement('li');
      item.textContent = `${body.text ?? `${body.data?.length ?? 0} bytes`} (urgency ${body.urgency})`;
      item.dataset.text = body.text ?? '';
      $('notifications').prepend(item);
      log('push notification arrived');
    } else if (body.op === 'error') {
      log(`push: ${body.message}`);
    }
  });
  $('push-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const response = await fetch(endpoint, {
      method: 'POST', headers: { TTL: '60', Urgency: 'normal', 'Content-Type': 'text/plain' }, body: $('push-text').value,
    });
    $('push-status').textContent = `POST ${response.status} ${response.statusText}`;
  });

  // --- presence ---
  const people = new Map();
  const openedAt = Date.now() - 5000;
  const render = () => {
    const list = $('presence');
    list.replaceChildren();
    // Room members stay for days (docs/presence.md): show those online, and those that went offline while this page
    // was open, not every tab ever closed.
    const others = [...people.values()]
      .filter((p) => p.device !== device && (p.online || p.since >= openedAt))
      .sort((a, b) => a.device.localeCompare(b.device));
    if (others.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = offers.has('presence') ? 'nobody else yet' : 'presence service not running';
      list.append(empty);
    }
    for (const p of others) {
      const item = document.createElement('li');
      item.dataset.device = p.device;
      item.dataset.online = String(p.online);
      item.dataset.status = p.online ? p.status : 'offline';
      item.textContent = `${p.device}: ${p.online ? p.status : 'offline'}${p.note ? ` (${p.note})` : ''}`;
      list.append(item);
    }
  };
  // Changes can arrive out of order: the entry with the highest version is the latest (docs/presence.md).
  const newer = (entry) => !people.has(entry.device) || people.get(entry.device).version <= entry.version;
  const onPresence = (body) => {
    if (body.op === 'snapshot' && body.room === ROOM) {
      const members = new Set(body.presence.map((p) => p.device));
      for (const device of people.keys()) if (!members.has(device)) people.delete(device);
      for (const p of body.presence) if (newer(p)) people.set(p.device, p);
    } else if (body.op === 'change') {
      if (newer(body)) people.set(body.device, body);
      // The room's topic carries this tab's own changes back too; the log is about the others.
      if (body.device !== device) log(`${body.device} is ${body.online ? body.status : 'offline'}`);
    } else if (body.op === 'left') {
      if (body.device) people.delete(body.device);
    } else if (body.op === 'error') {
      log(`presence: ${body.message}`);
    }
    render();
  };
  // The join's reply (a snapshot) and changes of watched devices come as messages of service presence; the room's
  // changes are published once on its topic (docs/presence.md), which the page subscribes to before it joins.
  client.on('presence', onPresence);
  if (offers.has('presence')) {
    client.subscribe(`presence.room.${ROOM}`, (notice) => {
      if (notice.type === 'event') { if (notice.body) onPresence(notice.body); return; }
      // Changes were missed: a new join answers with a fresh snapshot of the room.
      client.send('presence', { op: 'join', room: ROOM }).catch((e) => log(`join: ${e.message}`));
    }).catch((error) => log(`presence room topic: ${error.message}`));
  }
  render();
  $('my-status').addEventListener('change', () => {
    client.send('presence', { op: 'set', status: $('my-status').value }).catch((e) => log(`status: ${e.message}`));
  });

  // --- broadcast: topic demo.broadcast ---
  // The client keeps the last position in sessionStorage, so a reloaded tab shows what was published while it was
  // away (and not again what it already showed).
  const canBroadcast = Boolean(config.push && config.topicKey);
  $('broadcast-send').disabled = !canBroadcast;
  if (!canBroadcast) $('broadcast-result').textContent = 'the push service, which publishes to topics, is not running';
  client.subscribe(BROADCAST, (notice) => {
    const item = document.createElement('li');
    item.dataset.pos = notice.pos ?? '';
    if (notice.type === 'gap') {
      item.className = 'gap';
      item.textContent = notice.pos === null ? 'missed an unknown number of broadcasts'
        : `missed broadcasts up to position ${notice.pos}`;
      if (notice.pos === null) $('broadcast-status').textContent = 'subscribed; the stored position was refused, so new broadcasts only';
      log(`broadcast: ${item.textContent}`);
    } else {
      const body = notice.body ?? {};
      item.dataset.text = body.text ?? '';
      item.dataset.sender = body.sender ?? '';
      item.textContent = body.text ?? `${notice.data?.length ?? 0} bytes`;
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = `${body.sender === device ? 'this tab' : body.sender ?? notice.from} at ${notice.pos}`;
      item.append(meta);
      log(`broadcast arrived (${notice.pos})`);
    }
    $('broadcasts').prepend(item);
    while ($('broadcasts').children.length > 30) $('broadcasts').lastChild.remove();
  }).then(({ pos }) => {
    $('broadcast-card').dataset.subscribed = 'true';
    $('broadcast-status').textContent = pos ? `subscribed, resumed after position ${pos}` : 'subscribed';
  }, (error) => {
    $('broadcast-status').textContent = `not subscribed: ${error.code}: ${error.message}`;
    log(`broadcast: ${error.message}`);
  });
  $('broadcast-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const response = await fetch(`${config.push}/v1/topics/${encodeURIComponent(BROADCAST)}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${config.topicKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: $('broadcast-text').value, sender: device }),
      });
      const answer = await response.json().catch(() => null);
      $('broadcast-result').dataset.status = String(response.status);
      $('broadcast-result').textContent = response.ok ? `POST ${response.status}, published at position ${answer?.pos}`
        : `POST ${response.status}: ${answer?.message ?? response.statusText}`;
    } catch (error) {
      $('broadcast-result').dataset.status = 'failed';
      $('broadcast-result').textContent = `not published: ${error.message}`;
    }
  });

  function onConnected() {
    if (offers.has('presence')) {
      client.send('presence', { op: 'join', room: ROOM }).catch((e) => log(`join: ${e.message}`));
    }
    if (offers.has('push') && !endpoint) {
      // Sent again on every reconnect until the reply arrives: a fixed id per device makes the push service return
      // the same subscription for a repeat (within 24 h) instead of creating another.
      client.send('push', { op: 'subscribe', label: 'demo tab' }, { id: `subscribe-${device}` })
        .catch((e) => log(`subscribe: ${e.message}`));
    }
  }

  // --- the HTTP API (docs/api.md): this device's status, with gateway dev's development key ---
  $('api-status').disabled = !(config.api && config.apiKey);
  if (!config.api) $('api-status').title = 'gateway api is not running';
  $('api-status').addEventListener('click', async () => {
    try {
      const response = await fetch(`${config.api}/v1/devices/${encodeURIComponent(device)}`, {
        headers: { Authorization: `Bearer ${config.apiKey}` },
      });
      log(`GET /v1/devices/${device} ${response.status}: ${await response.text()}`);
    } catch (error) {
      log(`device status failed: ${error.message}`);
    }
  });

  client.connect().catch((error) => log(`cannot connect: ${error.message}`));
}

main().catch((error) => {
  document.body.dataset.state = 'failed';
  $('state').textContent = 'failed';
  log(`demo failed to start: ${error.message}`);
});
