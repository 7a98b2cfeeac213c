"""A client for the edge's TLS and limit tests (Tests/IntegrationTests/TLSTests.swift, LimitTests.swift).

It is a real, independent client: Python's `ssl` verifies the edge's certificate against the CA file it is given,
and the `websockets` package speaks WebSocket. Each mode prints `key=value` lines the tests wait for, and
`probe failed: ...` (exit 1) when something goes wrong.

  session  --url wss://... --ca ca.pem --device d --token t [--hold-until FILE]
           prints serial=<hex of the edge's certificate>, does hello and a round trip through the echo service
           ("round trip ok"); with --hold-until, keeps the connection until FILE exists, then does another round
           trip on the same connection ("second round trip ok").
  upgrade  --port P [--origin O]   sends a WebSocket upgrade by hand and prints status=<HTTP status>.
  stall    --port P [--partial]    connects and sends nothing (or half a request line), then prints
           closed_after=<seconds> when the edge closes it, or still_open after --wait seconds.
  hold     --port P --count N      opens N TCP connections, prints opened=<n>, keeps them for --seconds, then
           closes them and prints released.
"""

import argparse
import json
import os
import socket
import ssl
import sys
import time

from websockets.sync.client import connect


def say(line):
    print(line, flush=True)


def tls_context(ca):
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def next_frame(ws, timeout=15):
    return json.loads(ws.recv(timeout=timeout))


def round_trip(ws, message_id):
    ws.send(json.dumps({"type": "msg", "service": "echo", "id": message_id, "body": {"probe": message_id}}))
    acked, echoed = False, False
    deadline = time.time() + 30
    while not (acked and echoed):
        if time.time() > deadline:
            raise RuntimeError(f"no ack and echo for {message_id} (acked={acked}, echoed={echoed})")
        frame = next_frame(ws, timeout=30)
        if frame["type"] == "ack" and frame["id"] == message_id:
            acked = True
        elif frame["type"] == "msg" and frame["id"].endswith(message_id):
            ws.send(json.dumps({"type": "ack", "id": frame["id"]}))
            echoed = True
        elif frame["type"] == "error":
            raise RuntimeError(f"error frame: {frame}")


def session(args):
    context = tls_context(args.ca) if args.url.startswith("wss://") else None
    with connect(args.url, ssl=context, subprotocols=["channel.v1.json"], proxy=None, compression=None,
                 open_timeout=10, ping_interval=None) as ws:
        if context is not None:
            serial = ws.socket.getpeercert()["serialNumber"]
            say(f"serial={serial}")
        ws.send(json.dumps({"type": "hello", "device": args.device, "token": args.token}))
        welcome = next_frame(ws)
        if welcome["type"] != "welcome":
            raise RuntimeError(f"expected welcome, got {welcome}")
        round_trip(ws, "m-1")
        say("round trip ok")
        if args.hold_until:
            while not os.path.exists(args.hold_until):
                time.sleep(0.05)
            round_trip(ws, "m-2")
            say("second round trip ok")


def upgrade(args):
    with socket.create_connection(("127.0.0.1", args.port), timeout=10) as sock:
        lines = [
            "GET /v1/channel HTTP/1.1",
            f"Host: 127.0.0.1:{args.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol: channel.v1.json",
        ]
        if args.origin:
            lines.append(f"Origin: {args.origin}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                break
            response += chunk
        status = response.split(b" ", 2)[1].decode() if response.startswith(b"HTTP/1.1 ") else "none"
        say(f"status={status}")


def stall(args):
    start = time.time()
    with socket.create_connection(("127.0.0.1", args.port), timeout=10) as sock:
        if args.partial:
            sock.sendall(b"GET /v1/channel HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        say("connected")
        sock.settimeout(args.wait)
        try:
            while sock.recv(4096):
                pass
            say(f"closed_after={time.time() - start:.2f}")
        except socket.timeout:
            say("still_open")
        except ConnectionResetError:
            say(f"closed_after={time.time() - start:.2f}")


def hold(args):
    sockets = []
    for _ in range(args.count):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", args.port), timeout=5))
        except OSError as error:
            say(f"connect failed: {error}")
            break
    say(f"opened={len(sockets)}")
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        time.sleep(0.1)
    for sock in sockets:
        sock.close()
    say("released")


def main():
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    p = modes.add_parser("session")
    p.add_argument("--url", required=True)
    p.add_argument("--ca")
    p.add_argument("--device", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--hold-until")
    p = modes.add_parser("upgrade")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--origin")
    p = modes.add_parser("stall")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--partial", action="store_true")
    p.add_argument("--wait", type=float, default=15)
    p = modes.add_parser("hold")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    try:
        {"session": session, "upgrade": upgrade, "stall": stall, "hold": hold}[args.mode](args)
    except Exception as error:  # the test reads this line
        say(f"probe failed: {type(error).__name__}: {error}")
        sys.exit(1)


if __name__ == "__main__":
    main()
