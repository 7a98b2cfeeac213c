#!/usr/bin/env python3
"""Probe: router -> edge hand-off through a Redis stream per edge, against a store-only baseline.

    python3 -m venv /tmp/probe-venv && /tmp/probe-venv/bin/pip install redis    # once
    /tmp/probe-venv/bin/python scripts/handoff-streams-probe.py                  # about 1.5 minutes

Starts its own redis-server (free port, `--save "" --appendonly no`), stops it at the end. A router sends
batches of messages in ONE pipeline: per message an EVALSHA of a simplified copy of the mailbox `store` script
(Sources/Shared/Redis/MailboxScripts.swift) and, in the stream design, an
`XADD <prefix>:handoff:<edge> MAXLEN ~ 100000 * d <device> s <seq> p <payload>`. The edge reads its stream
(XREAD BLOCK 0 from `$` on start, so a restarted edge skips stale entries; or XREADGROUP + XACK) and trims what it
has read, the trim pipelined in front of its next blocking read. Router and edge are separate processes.

Measures
  1. Redis CPU per message, /proc/<redis pid>/stat utime+stime before/after (also INFO used_cpu_*, µs resolution,
     and INFO commandstats per command): store only, and store + XADD + edge read + trim (several edge variants);
  2. hand-off latency, router pipeline send -> edge has the entry, paced at 2,000 msgs/s for 10 s;
  3. unpaced throughput over 10 s, store only and store + stream.
Prints JSON and writes bench/results/handoff-streams-<UTC stamp>.json.

The `s` field cannot carry the seq the store script hands out: in one pipeline the XADD is queued before that
reply exists. It carries a 16-digit number of the same size instead (the real seq is about 1.7e15).
"""
import argparse, datetime, signal, json, multiprocessing as mp, os, platform, random, shutil, socket, subprocess
import sys, tempfile, time

import redis

PREFIX = "cg"
EDGE = "edge-1"
STREAM = f"{PREFIX}:handoff:{EDGE}"
SERVICE = b"push"
CTYPE = b"application/octet-stream"

# Simplified copy of MailboxScripts.store: same calls in the same order, less the ZRANGE of the top entry and the
# ZADD to the global expiry index (every key here is hash-tagged per device).
# KEYS: zset, entries, meta. ARGV: id, expiresAtMs, stored value, payload bytes, max count, max bytes, grace ms.
STORE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local existing = redis.call('ZSCORE', KEYS[1], ARGV[1])
if existing then return {'duplicate', tonumber(existing)} end
local expires = tonumber(ARGV[2])
if expires <= now then return {'expired'} end
local size = tonumber(ARGV[4])
local meta = redis.call('HMGET', KEYS[3], 'seq', 'bytes', 'until')
local bytes = tonumber(meta[2]) or 0
if redis.call('ZCARD', KEYS[1]) + 1 > tonumber(ARGV[5]) or bytes + size > tonumber(ARGV[6]) then
  return {'full'}
end
local last = tonumber(meta[1])
local seq = last and last + 1 or now * 1000
local untilMs = math.max(tonumber(meta[3]) or 0, expires)
local s = string.format('%d', seq)
redis.call('ZADD', KEYS[1], s, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], 'seq', s, 'bytes', string.format('%d', bytes + size), 'until', string.format('%d', untilMs))
local at = string.format('%d', untilMs + tonumber(ARGV[7]))
for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], at) end
return {'stored', seq}
"""

# Edge read/trim variants. Each lets a restarted edge skip stale entries: XREAD starts from `$`; the group is
# created at `$` (a restarted edge would XGROUP SETID ... $).
EDGE_VARIANTS = {
    "xread+xtrim-minid":        "XREAD from the last id; XTRIM MINID <last id + 1> (exact)",
    "xread+xtrim-minid-approx": "XREAD from the last id; XTRIM MINID ~ <last id + 1> (whole nodes only)",
    "xread+xdel":               "XREAD from the last id; XDEL <ids read>",
    "xreadgroup+xack+xtrim":    "XREADGROUP >; XACK <ids read>; XTRIM MINID ~ <last id + 1>",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime, stime (fields 14, 15)


def info_cpu_s(r):
    i = r.info("cpu")
    return i["used_cpu_user"] + i["used_cpu_sys"]


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def next_id(entry_id):
    ms, seq = entry_id.split(b"-")
    return b"%s-%d" % (ms, int(seq) + 1)


# ---------------------------------------------------------------------------------------------------- router --

def router(port, sha, mode, batch, devices, n_messages, duration_s, rate, seed, tag, out):
    """mode: 'store' or 'stream'. Stops after n_messages, or after duration_s if n_messages is 0. rate: msgs/s, or
    0 for as fast as it goes. Sends a final `end` entry to the stream. Puts its figures on `out`."""
    rnd = random.Random(seed)
    conn = redis.Redis(port=port, protocol=2).connection_pool.get_connection("_")
    pad = b"x" * 64
    expires = int(time.time() * 1000) + 3_600_000
    sends, rtts, sent, b_no, bad = [], [], 0, 0, 0
    interval = batch / rate if rate else 0
    t_start = time.perf_counter()
    next_at = t_start
    while True:
        if n_messages and sent >= n_messages:
            break
        if not n_messages and not rate and time.perf_counter() - t_start >= duration_s:
            break
        if rate and next_at - t_start >= duration_s - 1e-9:   # paced: exactly duration_s * rate messages
            break
        if rate:
            d = next_at - time.perf_counter()
            if d > 0:
                time.sleep(d)
            next_at += interval
        cmds = []
        for i in range(batch):
            dev = "dev-%d" % rnd.randrange(devices)
            mid = "%s-%010d" % (tag, sent + i)
            payload = (b"%d:%d:" % (b_no, i) + pad)[:64]          # 64 bytes; batch and index for the latency join
            value = b"%d %d %d\n" % (expires, len(SERVICE), len(CTYPE)) + SERVICE + CTYPE + payload
            cmds.append(("EVALSHA", sha, 3, f"{PREFIX}:mbox:{{{dev}}}", f"{PREFIX}:mbox-e:{{{dev}}}",
                         f"{PREFIX}:mbox-m:{{{dev}}}", mid, expires, value, 64, 100000, 100_000_000, 86_400_000))
            if mode == "stream":
                cmds.append(("XADD", STREAM, "MAXLEN", "~", 100000, "*", "d", dev,
                             "s", "%016d" % (1_700_000_000_000_000 + sent + i), "p", payload))
        packed = conn.pack_commands(cmds)
        t0 = time.perf_counter_ns()
        conn.send_packed_command(packed)
        for c in cmds:
            reply = conn.read_response()
            if c[0] == "EVALSHA" and reply[0] != b"stored":
                bad += 1
        rtts.append((time.perf_counter_ns() - t0) / 1e6)
        sends.append(t0)
        sent += batch
        b_no += 1
    elapsed = time.perf_counter() - t_start
    if mode == "stream":
        conn.send_command("XADD", STREAM, "*", "end", "1")
        conn.read_response()
    out.put({"sent": sent, "batches": b_no, "elapsed_s": elapsed, "not_stored": bad, "send_ns": sends,
             "batch_rtt_ms": rtts})


# ------------------------------------------------------------------------------------------------------ edge --

def edge(port, variant, count, ready, out):
    """Reads the stream until the `end` entry, trimming what it read in front of each next blocking read. Puts
    per-entry (batch number, receive time) on `out`."""
    r = redis.Redis(port=port, protocol=2)
    conn = r.connection_pool.get_connection("_")
    group = variant.startswith("xreadgroup")
    if group:
        r.execute_command("XGROUP", "CREATE", STREAM, "g", "$", "MKSTREAM")
    last = b"$"
    pending_trim = []
    recv, reads, entries, done = [], 0, 0, False
    ready.set()
    while not done:
        cmds = list(pending_trim)
        if group:
            cmds.append(("XREADGROUP", "GROUP", "g", "c", "COUNT", count, "BLOCK", 0, "STREAMS", STREAM, ">"))
        else:
            cmds.append(("XREAD", "COUNT", count, "BLOCK", 0, "STREAMS", STREAM, last))
        conn.send_packed_command(conn.pack_commands(cmds))
        for _ in pending_trim:
            conn.read_response()
        reply = conn.read_response()
        t = time.perf_counter_ns()
        reads += 1
        items = reply[0][1]
        ids = []
        for entry_id, fields in items:
            ids.append(entry_id)
            if fields[0] == b"end":
                done = True
                continue
            p = fields[5]
            b_no, _ = p.split(b":", 2)[:2]
            recv.append((int(b_no), t))
        entries += len(ids)
        last = ids[-1]
        if variant == "xread+xtrim-minid":
            pending_trim = [("XTRIM", STREAM, "MINID", next_id(last))]
        elif variant == "xread+xtrim-minid-approx":
            pending_trim = [("XTRIM", STREAM, "MINID", "~", next_id(last))]
        elif variant == "xread+xdel":
            pending_trim = [("XDEL", STREAM, *ids)]
        else:
            pending_trim = [("XACK", STREAM, "g", *ids), ("XTRIM", STREAM, "MINID", "~", next_id(last))]
    # the last trim, so the server CPU measured includes it
    if pending_trim:
        conn.send_packed_command(conn.pack_commands(pending_trim))
        for _ in pending_trim:
            conn.read_response()
    out.put({"reads": reads, "entries": entries, "recv": recv, "t_end_ns": time.perf_counter_ns(),
             "stream_len_after": r.xlen(STREAM)})


# ------------------------------------------------------------------------------------------------------- run --

class Probe:
    def __init__(self, args):
        self.args = args
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="handoff-probe-")
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.r = redis.Redis(port=self.port, protocol=2)
        for _ in range(100):
            try:
                self.r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        self.sha = self.r.script_load(STORE_LUA)
        self.seq = 0

    @staticmethod
    def get(q, proc):
        """The figures a child puts on q; fails if the child died without them."""
        while True:
            try:
                return q.get(timeout=1)
            except Exception:
                if not proc.is_alive():
                    raise RuntimeError(f"{proc.name} exited with {proc.exitcode} and no figures")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, mode, variant=None, n_messages=0, duration_s=0.0, rate=0, batch=None):
        a = self.args
        batch = batch or a.batch
        self.r.flushall()
        self.r.config_resetstat()
        self.seq += 1
        out_r, out_e = mp.Queue(), mp.Queue()
        edge_p = None
        if mode == "stream":
            ready = mp.Event()
            edge_p = mp.Process(target=edge, args=(self.port, variant, a.read_count, ready, out_e), daemon=True)
            edge_p.start()
            ready.wait()
            while self.r.info("clients")["blocked_clients"] < 1:          # the edge sits in its first read
                time.sleep(0.005)
        cpu0, icpu0, w0 = proc_cpu_s(self.proc.pid), info_cpu_s(self.r), time.perf_counter()
        router_p = mp.Process(target=router, args=(self.port, self.sha, mode, batch, a.devices, n_messages,
                                                   duration_s, rate, a.seed + self.seq, "r%d" % self.seq, out_r), daemon=True)
        router_p.start()
        rres = self.get(out_r, router_p)
        eres = self.get(out_e, edge_p) if edge_p else None
        router_p.join()
        if edge_p:
            edge_p.join()
        w1 = time.perf_counter()
        # the CPU figures below include INFO/CONFIG calls of this process: a few, against 10^4..10^5 messages
        cpu1, icpu1 = proc_cpu_s(self.proc.pid), info_cpu_s(self.r)
        stats = self.r.info("commandstats")
        mem = self.r.info("memory")["used_memory"]
        n = rres["sent"]
        res = {
            "mode": mode, "edge_variant": variant, "batch": batch, "messages": n,
            "paced_msgs_per_s": rate or None,
            "router_elapsed_s": round(rres["elapsed_s"], 3),
            "router_msgs_per_s": round(n / rres["elapsed_s"], 1),
            "not_stored": rres["not_stored"],
            "redis_cpu_s_proc": round(cpu1 - cpu0, 3),
            "redis_cpu_us_per_msg_proc": round((cpu1 - cpu0) / n * 1e6, 2),
            "redis_cpu_s_info": round(icpu1 - icpu0, 4),
            "redis_cpu_us_per_msg_info": round((icpu1 - icpu0) / n * 1e6, 2),
            "redis_cores_busy": round((cpu1 - cpu0) / (w1 - w0), 3),
            "redis_used_memory_after": mem,
            "batch_rtt_ms_p50": round(pct(rres["batch_rtt_ms"], .5), 3),
            "batch_rtt_ms_p99": round(pct(rres["batch_rtt_ms"], .99), 3),
            "commandstats_us_per_msg": {
                k.replace("cmdstat_", ""): round(v["usec"] / n, 3) for k, v in sorted(stats.items())
                if k.replace("cmdstat_", "") in ("evalsha", "xadd", "xread", "xreadgroup", "xtrim", "xdel", "xack")},
            "commandstats_calls": {k.replace("cmdstat_", ""): v["calls"] for k, v in sorted(stats.items())},
        }
        if eres:
            lat = [(t - rres["send_ns"][b]) / 1e6 for b, t in eres["recv"]]
            res.update({
                "edge_reads": eres["reads"],
                "edge_entries_per_read": round(eres["entries"] / eres["reads"], 1),
                "edge_received": len(eres["recv"]),
                "edge_lost": n - len(eres["recv"]),
                "stream_len_after_trim": eres["stream_len_after"],
                "handoff_ms_p50": round(pct(lat, .5), 3), "handoff_ms_p90": round(pct(lat, .9), 3),
                "handoff_ms_p99": round(pct(lat, .99), 3), "handoff_ms_max": round(max(lat), 3),
                "edge_drain_after_router_s": round((eres["t_end_ns"] - rres["send_ns"][-1]) / 1e9
                                                   - rres["batch_rtt_ms"][-1] / 1e3, 3),
                "handed_off_msgs_per_s": round(len(eres["recv"]) / ((eres["t_end_ns"] - rres["send_ns"][0]) / 1e9), 1),
            })
        print(f"  {mode:6} {variant or '':26} n={n:6} {res['router_msgs_per_s']:9.0f} msg/s  "
              f"redis {res['redis_cpu_us_per_msg_proc']:6.2f} us/msg (proc) {res['redis_cpu_us_per_msg_info']:6.2f} (info)"
              + (f"  hand-off p50 {res['handoff_ms_p50']} ms p99 {res['handoff_ms_p99']} ms" if eres else ""),
              file=sys.stderr, flush=True)
        return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--read-count", type=int, default=500, help="COUNT of the edge's blocking read")
    ap.add_argument("--cpu-messages", type=int, default=50_000, help="messages per CPU measurement run")
    ap.add_argument("--rounds", type=int, default=3, help="CPU measurement rounds; the median run is reported")
    ap.add_argument("--rate", type=int, default=2000, help="paced msgs/s for the latency run")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of the paced and the unpaced runs")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "results"))
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))    # so `finally` stops redis-server
    t_run = time.time()
    load0 = open("/proc/loadavg").read().split()[:3]
    p = Probe(a)
    result = {"parameters": {k: v for k, v in vars(a).items() if k != "out"}}
    try:
        print("1. Redis CPU per message (unpaced, %d messages a run, %d rounds, after a warm-up run)"
              % (a.cpu_messages, a.rounds), file=sys.stderr)
        p.run("store", n_messages=a.cpu_messages)                                 # warm-up, not counted
        names = ["store_only"] + ["store+stream:" + v for v in EDGE_VARIANTS]
        runs = {k: [] for k in names}
        for _ in range(a.rounds):                                                 # interleaved, so drift and
            for k in names:                                                       # other load hit all alike
                runs[k].append(p.run("store", n_messages=a.cpu_messages) if k == "store_only" else
                               p.run("stream", k.split(":", 1)[1], n_messages=a.cpu_messages))
        cpu = {}
        for k in names:
            rs = sorted(runs[k], key=lambda r: r["redis_cpu_us_per_msg_info"])
            med = dict(rs[len(rs) // 2])                                          # the median run, whole
            med["rounds_redis_cpu_us_per_msg_proc"] = [r["redis_cpu_us_per_msg_proc"] for r in runs[k]]
            med["rounds_redis_cpu_us_per_msg_info"] = [r["redis_cpu_us_per_msg_info"] for r in runs[k]]
            cpu[k] = med
        base = cpu["store_only"]["redis_cpu_us_per_msg_info"]
        best = min(EDGE_VARIANTS, key=lambda v: cpu["store+stream:" + v]["redis_cpu_us_per_msg_info"])
        result["cpu_per_message"] = cpu
        result["cheapest_edge_variant"] = best

        print(f"2. hand-off latency, paced at {a.rate} msgs/s for {a.duration} s (edge: {best})", file=sys.stderr)
        lat = {"store_only": p.run("store", duration_s=a.duration, rate=a.rate),
               "store+stream": p.run("stream", best, duration_s=a.duration, rate=a.rate),
               "store_only_batch50": p.run("store", duration_s=a.duration, rate=a.rate, batch=50),
               "store+stream_batch50": p.run("stream", best, duration_s=a.duration, rate=a.rate, batch=50)}
        result["paced"] = lat

        print(f"3. unpaced throughput for {a.duration} s", file=sys.stderr)
        thr = {"store_only": p.run("store", duration_s=a.duration),
               "store+stream": p.run("stream", best, duration_s=a.duration)}
        result["unpaced"] = thr
    finally:
        p.stop()

    def us(r, k="redis_cpu_us_per_msg_info"):
        return r[k]
    b = cpu["store+stream:" + best]
    result["summary"] = {
        "store_only_redis_us_per_msg": {"proc": cpu["store_only"]["redis_cpu_us_per_msg_proc"], "info": base},
        "store+stream_redis_us_per_msg": {"proc": b["redis_cpu_us_per_msg_proc"], "info": us(b)},
        "stream_extra_redis_us_per_msg": round(us(b) - base, 2),
        "stream_extra_percent": round((us(b) - base) / base * 100, 1),
        "edge_variants_redis_us_per_msg": {v: {"proc": cpu["store+stream:" + v]["redis_cpu_us_per_msg_proc"],
                                               "info": us(cpu["store+stream:" + v])} for v in EDGE_VARIANTS},
        "cheapest_variant_commandstats_us_per_msg": b["commandstats_us_per_msg"],
        "cheapest_variant_edge_entries_per_read": b["edge_entries_per_read"],
        "paced_store_only_redis_us_per_msg": us(lat["store_only"]),
        "paced_store+stream_redis_us_per_msg": us(lat["store+stream"]),
        "paced_extra_percent": round((us(lat["store+stream"]) - us(lat["store_only"])) / us(lat["store_only"]) * 100, 1),
        "handoff_ms_p50": lat["store+stream"]["handoff_ms_p50"],
        "handoff_ms_p99": lat["store+stream"]["handoff_ms_p99"],
        "paced_batch50_store_only_redis_us_per_msg": us(lat["store_only_batch50"]),
        "paced_batch50_store+stream_redis_us_per_msg": us(lat["store+stream_batch50"]),
        "handoff_ms_p50_batch50": lat["store+stream_batch50"]["handoff_ms_p50"],
        "handoff_ms_p99_batch50": lat["store+stream_batch50"]["handoff_ms_p99"],
        "unpaced_store_only_msgs_per_s": thr["store_only"]["router_msgs_per_s"],
        "unpaced_store+stream_msgs_per_s": thr["store+stream"]["router_msgs_per_s"],
        "unpaced_store+stream_handed_off_per_s": thr["store+stream"]["handed_off_msgs_per_s"],
    }
    result["machine"] = {"cpus": os.cpu_count(), "kernel": platform.release(),
                         "redis": subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip(),
                         "python": platform.python_version(), "redis_py": redis.__version__,
                         "loadavg_before": load0, "loadavg_after": open("/proc/loadavg").read().split()[:3]}
    result["notes"] = [
        "redis_cpu_us_per_msg_proc: /proc/<pid>/stat utime+stime (10 ms ticks); _info: INFO used_cpu_user+sys (µs)",
        "commandstats_us_per_msg: time inside each command, per message; evalsha includes the Lua calls",
        "hand-off latency: router stamps each batch just before writing its pipeline to the socket; the edge stamps "
        "each reply of its blocking read after parsing it; both CLOCK_MONOTONIC on one machine",
        "router, edge, Redis and this script share the machine's cores; router and edge are Python (redis-py, no hiredis)",
        "store script: MailboxScripts.store less its ZRANGE of the top entry and its ZADD to the global expiry index",
        "the stream's `s` field holds a 16-digit stand-in: the store script's seq is not known when the XADD is queued",
        "edge variants: " + "; ".join(f"{k}: {v}" for k, v in EDGE_VARIANTS.items()),
        "whole run %.0f s" % (time.time() - t_run),
    ]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.abspath(os.path.join(a.out, f"handoff-streams-{stamp}.json"))
    text = json.dumps(result, indent=2)
    with open(path, "w") as f:
        f.write(text + "\n")
    print(text)
    print("wrote " + path, file=sys.stderr)


if __name__ == "__main__":
    main()
