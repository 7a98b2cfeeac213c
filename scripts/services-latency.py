"""Push and presence latency against a running `gateway dev` (docs/performance.md, "Services").

    scripts/dev.sh &      # then:
    /var/cache/channel-gateway/test-venv/bin/python scripts/services-latency.py ws://127.0.0.1:7001/v1/channel .build/debug/gateway

Measures, one message at a time: push POST -> 201, POST -> notification at a connected device; presence: a status
change -> the watcher, a device closing -> the watcher sees it offline. Prints percentiles; writes nothing.
"""
import asyncio, json, sys, time, urllib.request, subprocess
import websockets

EDGE = sys.argv[1]; GATEWAY = sys.argv[2]

def token(device):
    return subprocess.check_output([GATEWAY, "token", "--device", device]).decode().strip()

async def connect(device):
    ws = await websockets.connect(EDGE, subprotocols=["channel.v1.json"])
    await ws.send(json.dumps({"type": "hello", "device": device, "token": token(device)}))
    json.loads(await ws.recv())
    return ws

async def next_msg(ws, service, pred=lambda b: True):
    while True:
        f = json.loads(await ws.recv())
        if f["type"] == "msg":
            await ws.send(json.dumps({"type": "ack", "id": f["id"]}))
            if f["service"] == service and pred(f.get("body")):
                return f

async def main():
    ws = await connect("lat-push")
    await ws.send(json.dumps({"type": "msg", "service": "push", "id": "s1", "body": {"op": "subscribe"}}))
    endpoint = (await next_msg(ws, "push", lambda b: b.get("op") == "subscribed"))["body"]["endpoint"]
    lat = []; http = []
    loop = asyncio.get_running_loop()
    for i in range(50):
        t0 = time.perf_counter()
        def post():
            r = urllib.request.Request(endpoint, data=f"n{i}".encode(), method="POST", headers={"TTL": "60"})
            with urllib.request.urlopen(r) as resp: return resp.status
        status = await loop.run_in_executor(None, post)
        t1 = time.perf_counter()
        await next_msg(ws, "push", lambda b, i=i: b.get("op") == "notification" and b.get("text") == f"n{i}")
        t2 = time.perf_counter()
        assert status == 201
        http.append((t1 - t0) * 1000); lat.append((t2 - t0) * 1000)
        await asyncio.sleep(1.1)   # under the default 60/min rate
    q = lambda xs, p: sorted(xs)[int(p * (len(xs) - 1))]
    print(f"push: POST->201 p50 {q(http,.5):.1f} ms p90 {q(http,.9):.1f}; POST->device p50 {q(lat,.5):.1f} ms p90 {q(lat,.9):.1f} max {max(lat):.1f} (n={len(lat)})")
    # presence: watcher sees a status change
    watcher = await connect("lat-watcher"); watched = await connect("lat-watched")
    await watcher.send(json.dumps({"type": "msg", "service": "presence", "id": "w1", "body": {"op": "watch", "devices": ["lat-watched"]}}))
    await next_msg(watcher, "presence", lambda b: b.get("op") == "snapshot")
    pl = []
    for i in range(30):
        st = "away" if i % 2 == 0 else "busy"
        t0 = time.perf_counter()
        await watched.send(json.dumps({"type": "msg", "service": "presence", "id": f"p{i}", "body": {"op": "set", "status": st}}))
        await next_msg(watcher, "presence", lambda b, st=st: b.get("op") == "change" and b.get("status") == st)
        pl.append((time.perf_counter() - t0) * 1000)
        await next_msg(watched, "presence", lambda b: b.get("op") == "presence")   # read and ack its own reply
    print(f"presence: set->watcher p50 {q(pl,.5):.1f} ms p90 {q(pl,.9):.1f} max {max(pl):.1f} (n={len(pl)})")
    ol = []
    for i in range(10):
        t0 = time.perf_counter()
        await watched.close()
        await next_msg(watcher, "presence", lambda b: b.get("op") == "change" and b.get("online") is False)
        ol.append((time.perf_counter() - t0) * 1000)
        watched = await connect("lat-watched")
        await next_msg(watcher, "presence", lambda b: b.get("op") == "change" and b.get("online") is True)
    print(f"presence: close->watcher sees offline p50 {q(ol,.5):.1f} ms max {max(ol):.1f} (n={len(ol)})")

asyncio.run(main())
