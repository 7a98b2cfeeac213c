#!/usr/bin/env python3
"""Attack suite for a Channel Gateway edge (docs/protocol.md).

Speaks raw TCP (or TLS for wss://) and writes WebSocket frames by hand, so it can send what no WebSocket library
would: unmasked frames, reserved bits and opcodes, lying length headers, broken fragmentation, invalid UTF-8,
slow or oversized handshakes. Each case checks the edge's documented answer and reports what it really did.

    python3 attacks.py --edge ws://127.0.0.1:7401/v1/channel \
        --token-cmd "/path/to/gateway token --device {device}" [--only NAME[,NAME...]] [--list]

Tokens for chosen device ids come from the token command ({device} is replaced; for the expired token
` --ttl 1s` is appended, or {ttl} replaced). Tokens that the issuer cannot make (forged, wrong audience, alg
"none") are minted here; the wrong-audience one needs the edge's secret (--secret, default $CG_TOKEN_SECRET or
the development secret of `gateway dev`).

Output: one line per case, `PASS|FAIL name: expected ...; observed ...`, then `N passed, M failed`.
Exit status: 0 if all passed, 1 if any failed, 2 if the suite could not start (edge or token command unusable).

Standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import shlex
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

SUBPROTOCOL = "channel.v1.json"
DEV_SECRET = "channel-gateway-development-secret-do-not-use-in-production"
AUDIENCE = "channel-gateway"
# How long an HTTP refusal may take to close its connection.
CLOSE_WAIT = 3.0

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# Filled in by main().
CFG = argparse.Namespace()


class SetupError(Exception):
    """The suite cannot run a case at all (no token, no connection): the case fails with this text."""


# --------------------------------------------------------------------------------------------------------------
# Transport


def open_tcp(timeout=5.0):
    """A connected socket to the edge (TLS-wrapped for wss://)."""
    sock = socket.create_connection((CFG.host, CFG.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if CFG.tls:
        ctx = ssl.create_default_context(cafile=CFG.cafile) if CFG.cafile else ssl.create_default_context()
        if CFG.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=CFG.host)
    return sock


def upgrade_request(path=None, protocols=SUBPROTOCOL, key=True, version="13", extra=(), upgrade=True):
    """The bytes of an HTTP/1.1 upgrade request (or a plain GET when upgrade is False)."""
    lines = [f"GET {path or CFG.path} HTTP/1.1", f"Host: {CFG.host}:{CFG.port}"]
    if upgrade:
        lines += ["Connection: Upgrade", "Upgrade: websocket"]
        if version is not None:
            lines.append(f"Sec-WebSocket-Version: {version}")
        if key:
            lines.append("Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode())
        if protocols:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    if CFG.origin:
        lines.append(f"Origin: {CFG.origin}")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HTTPResponse:
    def __init__(self):
        self.status = None  # int, or None when no status line arrived
        self.status_line = ""
        self.headers = []  # (lower-case name, value)
        self.body = b""
        self.rest = b""  # bytes after the head (WebSocket frames after a 101)
        self.outcome = ""  # "response", "closed", "reset", "timeout"
        self.closed_after = None  # for non-101: True if the edge closed the connection after answering
        self.answered_after = None  # seconds from starting to read to the complete head

    def header(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    def describe(self):
        if self.status is None:
            return {"closed": "connection closed without a response", "reset": "connection reset without a response",
                    "timeout": "no response"}.get(self.outcome, self.outcome) + \
                (f" (partial: {self.rest[:60]!r})" if self.rest else "")
        text = self.status_line
        interesting = [f"{n}: {v}" for n, v in self.headers
                       if n in ("connection", "upgrade", "sec-websocket-protocol", "sec-websocket-version",
                                "retry-after")]
        if interesting:
            text += " [" + ", ".join(interesting) + "]"
        if self.status != 101 and self.closed_after is not None:
            text += ", then connection closed" if self.closed_after else \
                f", but the connection is left open (not closed within {CLOSE_WAIT:g} s)"
        return text


def read_response(sock, timeout=5.0, check_close=True):
    """Reads an HTTP response head (and a Content-Length body) from sock."""
    resp = HTTPResponse()
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            resp.outcome, resp.rest = "timeout", buf
            return resp
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            resp.outcome, resp.rest = "timeout", buf
            return resp
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            resp.outcome, resp.rest = "reset", buf
            return resp
        if not chunk:
            resp.outcome, resp.rest = "closed", buf
            return resp
        buf += chunk
    resp.answered_after = timeout - (deadline - time.monotonic())
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    resp.status_line = lines[0]
    parts = lines[0].split(" ", 2)
    try:
        resp.status = int(parts[1])
    except (IndexError, ValueError):
        resp.status = -1
    for line in lines[1:]:
        if ":" in line:
            n, v = line.split(":", 1)
            resp.headers.append((n.strip().lower(), v.strip()))
    resp.outcome = "response"
    if resp.status == 101:
        resp.rest = rest
        return resp
    length = resp.header("content-length")
    want = int(length[0]) if length and length[0].isdigit() else None
    body = rest
    while want is not None and len(body) < want and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        body += chunk
    resp.body = body
    if check_close:
        resp.closed_after = wait_closed(sock, CLOSE_WAIT)
    return resp


def wait_closed(sock, timeout):
    """True if the peer closes (or resets) the connection within timeout, reading and discarding data."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True


def http_exchange(raw, timeout=5.0):
    """Sends raw request bytes on a new connection and reads the answer. Returns (HTTPResponse, send_error)."""
    sock = open_tcp()
    send_error = None
    try:
        try:
            sock.settimeout(timeout)
            sock.sendall(raw)
        except OSError as e:
            send_error = f"send stopped: {e.__class__.__name__}"
        return read_response(sock, timeout), send_error
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------------------------
# WebSocket frames


def xor_mask(payload, key):
    if not payload:
        return b""
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """One WebSocket frame; `length` overrides the length written in the header (the payload is sent as given)."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        return head + key + xor_mask(payload, key)
    return head + payload


class Event:
    """Something that came from the edge: a message, a control frame, the end of the connection, or nothing."""

    def __init__(self, kind, data=b"", code=None, reason=""):
        self.kind = kind  # text, binary, ping, pong, close, eof, reset, timeout
        self.data = data
        self.code = code
        self.reason = reason
        self.frame = None
        if kind == "text":
            try:
                self.frame = json.loads(data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.frame = None

    @property
    def terminal(self):
        return self.kind in ("close", "eof", "reset")

    @property
    def type(self):
        return self.frame.get("type") if isinstance(self.frame, dict) else None

    def describe(self):
        if self.kind == "text":
            f = self.frame
            if not isinstance(f, dict):
                return "text " + repr(self.data[:80])
            t = f.get("type")
            if t == "error":
                ref = f" ref={f['ref']}" if "ref" in f else ""
                return f"error {f.get('code')} \"{str(f.get('message'))[:90]}\"{ref}"
            if t in ("ack", "msg"):
                return f"{t} {str(f.get('id'))[:40]}"
            if t == "welcome":
                return "welcome"
            return "text " + self.data[:80].decode("utf-8", "replace")
        if self.kind == "close":
            return f"close {self.code}" + (f" \"{self.reason}\"" if self.reason else "")
        if self.kind == "eof":
            return "TCP closed without a close frame"
        if self.kind == "reset":
            return "connection reset"
        if self.kind == "timeout":
            return "nothing more"
        return f"{self.kind} {self.data[:20]!r}"


class WS:
    """A client WebSocket over a raw socket, reading whole server messages as Events."""

    def __init__(self, sock, rest=b"", label=""):
        self.sock = sock
        self.buf = bytearray(rest)
        self.label = label
        self.done = None  # the terminal Event once the connection ended
        self.fragments = None  # (opcode, bytearray) of a message the edge fragmented

    def send(self, raw):
        self.sock.settimeout(10)
        self.sock.sendall(raw)

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(build_frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text if isinstance(text, bytes) else text.encode())

    def send_json(self, obj):
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            self.sock.settimeout(max(remaining, 0.0005))
            try:
                chunk = self.sock.recv(262144)
            except socket.timeout:
                return "timeout"
            except ssl.SSLWantReadError:
                return "timeout"
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
                return "reset"
            if not chunk:
                return "eof"
            self.buf += chunk
        return None

    def next_event(self, timeout):
        """The next message or control frame, or a terminal/timeout Event."""
        if self.done:
            return self.done
        deadline = time.monotonic() + timeout
        while True:
            problem = self._need(2, deadline)
            if problem:
                return self._end(problem)
            b0, b1 = self.buf[0], self.buf[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                problem = self._need(4, deadline)
                if problem:
                    return self._end(problem)
                n = struct.unpack("!H", self.buf[2:4])[0]
                pos = 4
            elif n == 127:
                problem = self._need(10, deadline)
                if problem:
                    return self._end(problem)
                n = struct.unpack("!Q", self.buf[2:10])[0]
                pos = 10
            key = None
            if b1 & 0x80:
                problem = self._need(pos + 4, deadline)
                if problem:
                    return self._end(problem)
                key = bytes(self.buf[pos:pos + 4])
                pos += 4
            problem = self._need(pos + n, deadline)
            if problem:
                return self._end(problem)
            payload = bytes(self.buf[pos:pos + n])
            del self.buf[:pos + n]
            if key:
                payload = xor_mask(payload, key)
            fin, opcode = bool(b0 & 0x80), b0 & 0x0F
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.done = Event("close", payload, code=code, reason=payload[2:].decode("utf-8", "replace"))
                return self.done
            if opcode == OP_PING:
                return Event("ping", payload)
            if opcode == OP_PONG:
                return Event("pong", payload)
            if opcode in (OP_TEXT, OP_BINARY) and fin:
                return Event("text" if opcode == OP_TEXT else "binary", payload)
            if opcode in (OP_TEXT, OP_BINARY):
                self.fragments = (opcode, bytearray(payload))
                continue
            if opcode == OP_CONT and self.fragments:
                self.fragments[1].extend(payload)
                if fin:
                    op, data = self.fragments
                    self.fragments = None
                    return Event("text" if op == OP_TEXT else "binary", bytes(data))
                continue
            return Event(f"opcode-0x{opcode:x}", payload)

    def _end(self, problem):
        if problem == "timeout":
            return Event("timeout")
        self.done = Event(problem)
        return self.done

    def collect(self, timeout, stop=None):
        """Events until stop(event) is true, the connection ends, or timeout passes (then a timeout Event last).
        Pings from the edge are answered and left out."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.0, deadline - time.monotonic()))
            if ev.kind == "ping":
                try:
                    self.send_frame(OP_PONG, ev.data)
                except OSError:
                    pass
                continue
            events.append(ev)
            if ev.kind == "timeout" or ev.terminal or (stop and stop(ev)):
                return events

    def wait_for(self, pred, timeout):
        """(matching event or None, all events seen)."""
        events = self.collect(timeout, stop=pred)
        last = events[-1] if events else None
        return (last if last is not None and pred(last) else None), events

    def alive(self, timeout=3.0):
        """Whether the connection still works: a ping gets its pong."""
        if self.done:
            return False
        token = b"alive-" + os.urandom(4).hex().encode()
        try:
            self.send_frame(OP_PING, token)
        except OSError:
            return False
        ev, _ = self.wait_for(lambda e: e.kind == "pong" and e.data == token, timeout)
        return ev is not None

    def close(self):
        try:
            if not self.done:
                self.send_frame(OP_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def describe_events(events, timeout=None):
    out = []
    for ev in events:
        if ev.kind == "timeout":
            out.append(f"nothing more within {timeout:g} s" if timeout else "nothing more")
        else:
            out.append(ev.describe())
    return ", ".join(out) if out else "nothing"


def first(events, pred):
    return next((e for e in events if pred(e)), None)


def is_close(ev):
    return ev.terminal


def error_of(ev):
    return ev.frame.get("code") if ev.kind == "text" and ev.type == "error" else None


# --------------------------------------------------------------------------------------------------------------
# Connections, hello and tokens


def handshake(label="", extra=()):
    """A new WebSocket connection after a 101, or SetupError."""
    sock = open_tcp()
    try:
        sock.settimeout(5)
        sock.sendall(upgrade_request(extra=extra))
        resp = read_response(sock, 5.0)
    except OSError as e:
        sock.close()
        raise SetupError(f"upgrade failed: {e}")
    if resp.status != 101:
        sock.close()
        raise SetupError(f"upgrade refused: {resp.describe()}")
    return WS(sock, resp.rest, label)


def token_for(device, ttl=None):
    cmd = CFG.token_cmd.replace("{device}", device)
    if "{ttl}" in cmd:
        cmd = cmd.replace("{ttl}", ttl or "1h")
    elif ttl:
        cmd += f" --ttl {ttl}"
    try:
        out = subprocess.run(shlex.split(cmd), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"token command failed: {e}")
    if out.returncode != 0 or not out.stdout.strip():
        raise SetupError(f"token command exited {out.returncode}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(claims, secret, alg="HS256"):
    """A JWT with the given claims, HS256-signed with secret (alg "none": no signature); with --kid in its header."""
    head = {"alg": alg, "typ": "JWT"}
    if CFG.kid:
        head["kid"] = CFG.kid
    header = b64url(json.dumps(head, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    if alg == "none":
        return f"{header}.{payload}."
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def claims_for(device, aud=AUDIENCE, ttl=3600):
    now = int(time.time())
    return {"sub": device, "aud": aud, "iat": now, "exp": now + ttl, "services": ["*"]}


RUN_ID = os.urandom(3).hex()


def dev(name):
    """A device id unique to this run, so no mailbox or route of an earlier run interferes."""
    safe = "".join(c if c.isalnum() or c in ".-_:@" else "-" for c in name)
    return f"sec-{RUN_ID}-{safe}"[:128]


def hello_frame(device, token):
    return json.dumps({"type": "hello", "device": device, "token": token}, separators=(",", ":"))


def welcomed(device, token=None):
    """(ws, welcome frame) for device, or SetupError."""
    token = token if token is not None else token_for(device)
    ws = handshake(device)
    ws.send_text(hello_frame(device, token))
    ev, events = ws.wait_for(lambda e: e.type == "welcome", 10)
    if ev is None:
        ws.close()
        raise SetupError(f"no welcome for {device}: {describe_events(events, 10)}")
    return ws, ev.frame


def edge_alive():
    """Whether the edge still upgrades a new connection."""
    try:
        ws = handshake("probe")
        ws.close()
        return True
    except (SetupError, OSError):
        return False


def msg_frame(mid, body_raw, service="echo"):
    """A msg frame with a raw (already JSON) body, as text."""
    return '{"type":"msg","service":"%s","id":"%s","body":%s}' % (service, mid, body_raw)


# --------------------------------------------------------------------------------------------------------------
# Cases. Each returns (name, expected, observed, passed).

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


# ---- HTTP upgrade


def http_refusal(name, raw, statuses, expected, need_close=True, check=None):
    resp, send_error = http_exchange(raw)
    observed = resp.describe() + (f" ({send_error})" if send_error else "")
    ok = resp.status in statuses and (not need_close or resp.closed_after) and (check is None or check(resp))
    return name, expected, observed, ok


@case("http-missing-key")
def http_missing_key():
    return http_refusal("http-missing-key", upgrade_request(key=False), {400, 426},
                        "no upgrade: 400 (RFC 6455 §4.2.1) or 426, connection closed")


@case("http-wrong-version")
def http_wrong_version():
    return http_refusal("http-wrong-version", upgrade_request(version="8"), {400, 426},
                        "no upgrade: 426 or 400 (RFC 6455 §4.4, Sec-WebSocket-Version: 13), connection closed")


@case("http-wrong-path")
def http_wrong_path():
    return http_refusal("http-wrong-path", upgrade_request(path="/v1/other"), {404},
                        "404 Not Found with Connection: close, connection closed",
                        check=lambda r: any(v.lower() == "close" for v in r.header("connection")))


@case("http-no-upgrade")
def http_no_upgrade():
    return http_refusal("http-no-upgrade", upgrade_request(upgrade=False), {426},
                        "426 Upgrade Required with Upgrade: websocket and Connection: close, connection closed",
                        check=lambda r: any(v.lower() == "websocket" for v in r.header("upgrade"))
                        and any(v.lower() == "close" for v in r.header("connection")))


@case("http-other-subprotocol")
def http_other_subprotocol():
    return http_refusal("http-other-subprotocol", upgrade_request(protocols="chat.v9, mqtt"), {426},
                        "426 Upgrade Required (only other subprotocols offered), connection closed")


@case("http-garbage-request-line")
def http_garbage():
    raw = b"\x16\x03\x01\x00\xa5GARBAGE \xff\xfe /\x00 HTTP/9.9\r\nHost: x\r\n\r\n"
    name = "http-garbage-request-line"
    resp, send_error = http_exchange(raw)
    observed = resp.describe() + (f" ({send_error})" if send_error else "")
    ok = (resp.status == 400 and resp.closed_after) or (resp.status is None and resp.outcome in ("closed", "reset"))
    return name, "400 Bad Request and the connection closed (or closed without an answer), never 101", observed, ok


def oversized_headers_case(name, extra):
    raw = upgrade_request(extra=extra)
    resp, send_error = http_exchange(raw, timeout=8)
    observed = f"sent {len(raw) // 1024} KiB of headers: " + resp.describe() + \
        (f" ({send_error})" if send_error else "") + \
        (f", answered {resp.answered_after:.1f} s after sending" if resp.answered_after is not None else "")
    refused = (resp.status in (400, 413, 431) and resp.closed_after) or \
        (resp.status is None and resp.outcome in ("closed", "reset"))
    return name, "refused at once: 431/400 and the connection closed (or closed without an answer), never 101", observed, refused


@case("http-oversized-header")
def http_oversized_header():
    return oversized_headers_case("http-oversized-header", [f"X-Big: {'a' * 100_000}"])


@case("http-header-flood")
def http_header_flood():
    return oversized_headers_case("http-header-flood", [f"X-Flood-{i}: {i:08d}" for i in range(10_000)])


# ---- WebSocket framing


def framing_case(name, expected_codes, expected, send, pre_hello=False, wait=5.0, extra_check=None):
    """Sends broken framing on a (welcomed) connection; passes if the edge closes with one of expected_codes."""
    if pre_hello:
        ws = handshake(name)
    else:
        ws, _ = welcomed(dev(name))
    try:
        send(ws)
        events = ws.collect(wait, stop=is_close)
        closing = first(events, is_close)
        observed = describe_events(events, wait)
        if closing is None:
            observed += "; connection still open" + (" (answers ping)" if ws.alive() else " (but no pong)")
        ok = closing is not None and closing.kind == "close" and closing.code in expected_codes
        if extra_check:
            extra_ok, note = extra_check()
            ok = ok and extra_ok
            observed += "; " + note
        return name, expected, observed, ok
    finally:
        ws.close()


def alive_note():
    alive = edge_alive()
    return alive, ("edge still accepts connections" if alive else "EDGE NO LONGER ACCEPTS CONNECTIONS")


@case("ws-unmasked-frame")
def ws_unmasked():
    return framing_case("ws-unmasked-frame", {1002}, "close 1002 (RFC 6455 §5.1: clients must mask)",
                        lambda ws: ws.send_frame(OP_TEXT, msg_frame("unmasked-1", "1"), mask=False))


@case("ws-reserved-bits")
def ws_rsv():
    return framing_case("ws-reserved-bits", {1002}, "close 1002 (RSV1-3 set, no extension negotiated)",
                        lambda ws: ws.send_frame(OP_TEXT, msg_frame("rsv-1", "1"), rsv=0b111))


@case("ws-reserved-opcode-0x3")
def ws_opcode_3():
    return framing_case("ws-reserved-opcode-0x3", {1002}, "close 1002 (reserved non-control opcode)",
                        lambda ws: ws.send_frame(0x3, msg_frame("op3-1", "1")))


@case("ws-reserved-opcode-0xB")
def ws_opcode_b():
    return framing_case("ws-reserved-opcode-0xB", {1002}, "close 1002 (reserved control opcode)",
                        lambda ws: ws.send_frame(0xB, b"x"))


@case("ws-length-2^62")
def ws_huge_length():
    def send(ws):
        # Header only: a text frame claiming 2^62 bytes, then a few bytes of it.
        head = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 1 << 62) + os.urandom(4)
        ws.send(head + b"x" * 16)
    return framing_case("ws-length-2^62", {1009, 1002}, "close 1009 or 1002 at once, edge unharmed", send,
                        extra_check=alive_note)


@case("ws-control-frame-126-bytes")
def ws_big_control():
    return framing_case("ws-control-frame-126-bytes", {1002}, "close 1002 (control frame payload > 125)",
                        lambda ws: ws.send_frame(OP_PING, b"p" * 126))


@case("ws-fragmented-control-frame")
def ws_fragmented_control():
    def send(ws):
        ws.send_frame(OP_PING, b"part-1", fin=False)
        ws.send_frame(OP_CONT, b"part-2", fin=True)
    return framing_case("ws-fragmented-control-frame", {1002}, "close 1002 (control frame without FIN)", send)


@case("ws-continuation-without-start")
def ws_continuation_first():
    return framing_case("ws-continuation-without-start", {1002}, "close 1002 (continuation with no message started)",
                        lambda ws: ws.send_frame(OP_CONT, msg_frame("cont-1", "1"), fin=True))


@case("ws-new-message-inside-fragmented")
def ws_interleaved():
    def send(ws):
        ws.send_frame(OP_TEXT, b'{"type":"msg",', fin=False)
        ws.send_frame(OP_TEXT, msg_frame("inter-1", "1"), fin=True)
    return framing_case("ws-new-message-inside-fragmented", {1002},
                        "close 1002 (new data frame before the fragmented one finished)", send)


@case("ws-invalid-utf8")
def ws_invalid_utf8():
    name = "ws-invalid-utf8"
    ws, _ = welcomed(dev(name))
    try:
        ws.send_text(b'{"type":"msg","service":"echo","id":"utf8-1","body":"bad \xff\xfe \xc0\xaf \xed\xa0\x80"}')
        ev, events = ws.wait_for(lambda e: e.terminal or error_of(e) is not None or e.type == "ack", 5)
        observed = describe_events(events, 5)
        if ev is not None and error_of(ev) == "bad_frame":
            alive = ws.alive()
            observed = "answered error bad_frame" + ("; connection stays open" if alive else "; but then no pong")
            return name, "error bad_frame (connection open) or close 1007", observed, alive
        if ev is not None and ev.kind == "close" and ev.code == 1007:
            return name, "error bad_frame (connection open) or close 1007", "closed 1007", True
        return name, "error bad_frame (connection open) or close 1007", observed, False
    finally:
        ws.close()


@case("ws-truncated-frame")
def ws_truncated():
    name = "ws-truncated-frame"
    ws = handshake(name)
    try:
        # A masked text frame announcing 100 bytes, of which only 10 are sent; then silence.
        ws.send(bytes([0x81, 0x80 | 100]) + os.urandom(4) + b"0123456789")
        t0 = time.monotonic()
        wait = CFG.hello_timeout + 5
        events = ws.collect(wait, stop=is_close)
        elapsed = time.monotonic() - t0
        closing = first(events, is_close)
        observed = describe_events(events, wait) + (f" after {elapsed:.1f} s" if closing else "")
        ok = closing is not None and (closing.kind != "close" or closing.code in (4006, 1001)) \
            and elapsed <= CFG.hello_timeout + 3
        return name, f"closed by the hello timeout (error hello_required, close 4006) within ~{CFG.hello_timeout} s", \
            observed, ok
    finally:
        ws.close()


@case("slowloris-handshake")
def slowloris():
    name = "slowloris-handshake"
    raw = upgrade_request()
    limit = CFG.handshake_timeout + 3
    sock = open_tcp()
    t0 = time.monotonic()
    sent = 0
    outcome = None
    try:
        for i in range(len(raw)):
            if time.monotonic() - t0 > limit:
                break
            try:
                sock.settimeout(5)
                sock.sendall(raw[i:i + 1])
                sent += 1
            except OSError as e:
                outcome = f"send failed ({e.__class__.__name__})"
                break
            sock.settimeout(1.0)
            try:
                data = sock.recv(4096)
                if not data:
                    outcome = "edge closed the connection"
                    break
                outcome = "edge answered " + data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
                if wait_closed(sock, 2):
                    outcome += " and closed"
                break
            except socket.timeout:
                continue
            except OSError:
                outcome = "connection reset by the edge"
                break
    finally:
        sock.close()
    elapsed = time.monotonic() - t0
    expected = f"edge closes the half-sent handshake within its handshake timeout (~{CFG.handshake_timeout} s)"
    if outcome is None:
        return name, expected, f"still open after {elapsed:.0f} s ({sent} of {len(raw)} bytes sent, one per second): " \
            "no handshake timeout", False
    ok = elapsed <= limit and "101" not in outcome
    return name, expected, f"{outcome} after {elapsed:.1f} s ({sent} bytes sent)", ok


# ---- Floods


@case("flood-300-connections")
def flood_connections():
    name = "flood-300-connections"
    count = 300
    results = [None] * count
    socks = [None] * count
    barrier = threading.Barrier(count)

    def one(i):
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        try:
            s = open_tcp(timeout=10)
        except OSError as e:
            results[i] = f"connect failed: {e.__class__.__name__}"
            return
        socks[i] = s
        try:
            s.settimeout(10)
            s.sendall(upgrade_request())
            resp = read_response(s, 10.0, check_close=False)
        except OSError as e:
            results[i] = f"send failed: {e.__class__.__name__}"
            return
        if resp.status is None:
            results[i] = resp.describe()
        else:
            results[i] = str(resp.status)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    elapsed = time.monotonic() - t0
    for s in socks:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass
    tally = {}
    for r in results:
        tally[r or "no result"] = tally.get(r or "no result", 0) + 1
    upgraded = tally.get("101", 0)
    others = ", ".join(f"{n}× {k}" for k, n in sorted(tally.items(), key=lambda kv: -kv[1]) if k != "101")
    unanswered = sum(n for k, n in tally.items() if k in ("no response", "no result"))
    time.sleep(1)
    alive = edge_alive()
    observed = f"{upgraded} of {count} got 101" + (f"; others: {others}" if others else "") + \
        f" (in {elapsed:.1f} s); edge {'still serves' if alive else 'NO LONGER ACCEPTS CONNECTIONS'}"
    if CFG.conn_cap is None:
        expected = "every connection answered (101, or a refusal once per-IP caps exist) within 10 s; edge keeps serving"
        ok = unanswered == 0 and alive
        if upgraded == count:
            observed += " (no per-IP cap at or below 300)"
    else:
        expected = f"at most {CFG.conn_cap} upgraded (per-IP cap), the rest refused at once; edge keeps serving"
        ok = unanswered == 0 and alive and upgraded <= CFG.conn_cap
    return name, expected, observed, ok


@case("flood-2000-msgs-per-second")
def flood_messages():
    name = "flood-2000-msgs-per-second"
    rate, seconds = 2000, 2.0
    total = int(rate * seconds)
    ws, _ = welcomed(dev(name))
    acks = msgs = 0
    errors = {}
    closing = None
    sent = 0
    blocked = None
    t0 = time.monotonic()

    def drain(timeout):
        nonlocal acks, msgs, closing
        deadline = time.monotonic() + timeout
        while closing is None:
            ev = ws.next_event(max(0.0, deadline - time.monotonic()))
            if ev.kind == "timeout":
                return
            if ev.terminal:
                closing = ev
            elif ev.type == "ack":
                acks += 1
            elif ev.type == "msg":
                msgs += 1
            elif error_of(ev):
                errors[error_of(ev)] = errors.get(error_of(ev), 0) + 1
            elif ev.kind == "ping":
                pass

    try:
        batch = 20
        while sent < total and closing is None:
            due = t0 + sent / rate
            now = time.monotonic()
            if due > now:
                drain(due - now)
                continue
            frames = b"".join(build_frame(OP_TEXT, msg_frame(f"r-{sent + k}", str(sent + k)))
                              for k in range(min(batch, total - sent)))
            try:
                ws.sock.settimeout(5)
                ws.sock.sendall(frames)
            except socket.timeout:
                blocked = f"send blocked for 5 s after {sent} messages (edge stopped reading)"
                break
            except OSError as e:
                blocked = f"send failed after {sent} messages ({e.__class__.__name__})"
                break
            sent += min(batch, total - sent)
        send_time = time.monotonic() - t0
        drain(5.0)
    finally:
        ws.close()
    parts = [f"sent {sent} msgs in {send_time:.1f} s ({sent / max(send_time, 0.001):.0f}/s)", f"{acks} acked", f"{msgs} echo replies delivered"]
    if errors:
        parts.append("errors " + ", ".join(f"{k}×{v}" for k, v in errors.items()))
    if blocked:
        parts.append(blocked)
    parts.append(closing.describe() if closing else "connection not closed")
    ok = closing is not None and closing.kind == "close" and closing.code == 4003
    return name, "close 4003 too_fast (per-connection rate limit)", "; ".join(parts), ok


# ---- Malformed and extreme JSON


def json_case(name, frame_text, expect, expected, wait=15.0):
    """Sends one text frame after welcome. expect: 'bad_frame' / 'invalid_field' (error, connection open), or
    ('ack', id[, exact body bytes to see echoed back]), or ('close', code)."""
    ws, _ = welcomed(dev(name))
    try:
        ws.send_text(frame_text)
        if isinstance(expect, str):
            ev, events = ws.wait_for(lambda e: e.terminal or error_of(e) is not None or e.type == "ack", wait)
            observed = describe_events(events, wait)
            ok = ev is not None and error_of(ev) == expect
            if ok:
                alive = ws.alive()
                observed += "; connection stays open" if alive else "; then no pong"
                ok = alive
            return name, expected, observed, ok
        if expect[0] == "close":
            ev, events = ws.wait_for(lambda e: e.terminal, wait)
            ok = ev is not None and ev.kind == "close" and ev.code == expect[1]
            return name, expected, describe_events(events, wait), ok
        mid = expect[1]
        ev, events = ws.wait_for(lambda e: e.terminal or error_of(e) is not None or
                                 (e.type == "ack" and e.frame.get("id") == mid), wait)
        observed = describe_events(events, wait)
        ok = ev is not None and ev.type == "ack"
        if ok and len(expect) > 2:
            want = expect[2]
            echo, more = ws.wait_for(lambda e: e.terminal or (e.type == "msg" and e.frame.get("id") == f"echo-{mid}"),
                                     wait)
            if echo is None or echo.type != "msg":
                observed += f"; no echo reply: {describe_events(more, wait)}"
                ok = False
            else:
                raw = echo.data
                start = raw.find(b'"body":')
                got = raw[start + 7:-1] if start >= 0 and raw.endswith(b"}") else None
                if got == want:
                    observed += f"; echo reply carries the same {len(want)} body bytes"
                else:
                    observed += f"; echo reply body differs: {raw[:120]!r}"
                    ok = False
        return name, expected, observed, ok
    finally:
        ws.close()


@case("json-malformed")
def json_malformed():
    return json_case("json-malformed", '{"type":"msg","service":"echo","id":"x","body":{"unterminated',
                     "bad_frame", "error bad_frame, connection stays open")


@case("json-nested-10000")
def json_deep():
    body = "[" * 10_000 + "]" * 10_000
    r = json_case("json-nested-10000", msg_frame("deep-1", body), "bad_frame",
                  "error bad_frame (nesting deeper than 32), connection stays open, edge unharmed")
    alive, note = alive_note()
    return r[0], r[1], r[2] + "; " + note, r[3] and alive


@case("json-60kb-string")
def json_60kb_string():
    body = '"' + "s" * (60 * 1024) + '"'
    return json_case("json-60kb-string", msg_frame("str60k-1", body), ("ack", "str60k-1"),
                     "ack str60k-1 (frame under 64 KiB)")


@case("json-60kb-id")
def json_60kb_id():
    return json_case("json-60kb-id", msg_frame("i" * (60 * 1024), "1"), "invalid_field",
                     "error invalid_field (id over 128 bytes), connection stays open")


@case("json-huge-numbers")
def json_huge_numbers():
    body = "[1e999999,123456789012345678901234567890,-0.0000000000000000000001e-999999]"
    return json_case("json-huge-numbers", msg_frame("num-1", body), ("ack", "num-1", body.encode()),
                     "ack num-1 and the echo reply keeps the numbers' exact spelling")


@case("json-duplicate-keys")
def json_duplicate_keys():
    frame = '{"type":"ack","type":"msg","service":"nope","service":"echo","id":"dup-a","id":"dup-b",' \
            '"body":{"k":1,"k":2}}'
    return json_case("json-duplicate-keys", frame, ("ack", "dup-b", b'{"k":1,"k":2}'),
                     "last member wins: ack dup-b (type msg, service echo), body kept verbatim")


@case("json-type-not-string")
def json_type_not_string():
    return json_case("json-type-not-string", '{"type":1,"service":"echo","id":"t-1","body":1}', "bad_frame",
                     "error bad_frame, connection stays open")


@case("json-nul-in-strings")
def json_nul():
    name = "json-nul-in-strings"
    ws, _ = welcomed(dev(name))
    results = []
    try:
        steps = [
            ("raw NUL byte in body string", b'{"type":"msg","service":"echo","id":"nul-1","body":"a\x00b"}',
             lambda e: error_of(e) == "bad_frame", "bad_frame"),
            ("\\u0000 in id", '{"type":"msg","service":"echo","id":"nul\\u0000-2","body":1}',
             lambda e: error_of(e) == "invalid_field", "invalid_field"),
            ("\\u0000 in body string", '{"type":"msg","service":"echo","id":"nul-3","body":"a\\u0000b"}',
             lambda e: e.type == "ack" and e.frame.get("id") == "nul-3", "ack nul-3"),
        ]
        ok = True
        for label, frame, good, want in steps:
            ws.send_text(frame)
            ev, events = ws.wait_for(lambda e: e.terminal or error_of(e) is not None or e.type == "ack", 15)
            passed = ev is not None and good(ev)
            ok = ok and passed
            results.append(f"{label}: {describe_events(events, 15)}")
            if ev is None or ev.terminal:
                break
        if ok and not ws.alive():
            ok = False
            results.append("then no pong")
        return name, "raw NUL → bad_frame; \\u0000 in id → invalid_field; \\u0000 in body → ack; connection open", \
            "; ".join(results), ok
    finally:
        ws.close()


@case("json-40kb-body")
def json_40kb():
    items = ",".join('{"i":%d,"v":"%s"}' % (i, "v" * 30) for i in range(860))
    body = '{"items":[' + items + "]}"
    body = body[:-2] + "]" + " " * max(0, 40 * 1024 - len(body)) + "}"
    return json_case("json-40kb-body", msg_frame("b40k-1", body), ("ack", "b40k-1", body.encode()),
                     f"ack b40k-1 ({len(body)} body bytes, under 64 KiB) and the echo reply has the same bytes")


@case("json-over-max-message")
def json_over_limit():
    limit = CFG.max_message_bytes
    body = '"' + "x" * (limit + 100) + '"'
    return json_case("json-over-max-message", msg_frame("big-1", body), ("close", 1009),
                     f"close 1009 (frame over maxMessageBytes={limit})")


# ---- Tokens


def token_case(name, device, token, want_message, note=""):
    """hello with token → error auth_failed (message in want_message, or any message when None), close 4001."""
    frame = hello_frame(device, token)
    over = len(frame.encode()) > CFG.max_message_bytes
    ws = handshake(name)
    try:
        ws.send_text(frame)
        events = ws.collect(10, stop=is_close)
        observed = describe_events(events, 10)
        err = first(events, lambda e: error_of(e) is not None)
        closing = first(events, is_close)
        if over:
            expected = f"close 1009 (the hello frame, {len(frame)} bytes, exceeds maxMessageBytes " \
                       f"{CFG.max_message_bytes}; the token is never checked)"
            ok = closing is not None and closing.kind == "close" and closing.code == 1009 and err is None
            return name, expected, observed, ok
        if want_message is None:
            expected = "error auth_failed (any message), then close 4001" + note
        else:
            expected = "error auth_failed \"" + "\" or \"".join(sorted(want_message)) + "\", then close 4001" + note
        ok = err is not None and err.frame.get("code") == "auth_failed" \
            and (want_message is None or err.frame.get("message") in want_message) \
            and closing is not None and closing.kind == "close" and closing.code == 4001 \
            and first(events, lambda e: e.type == "welcome") is None
        return name, expected, observed, ok
    finally:
        ws.close()


# The token attacks, each tried at hello (token-NAME) and again as a refresh of a welcomed connection (refresh-NAME):
# (NAME, the attacker's token for a device, the messages the edge may refuse it with (None: any), whether telling the
# refusal apart needs --secret to be the edge's secret).
ATTACKER_SECRET = "an-attacker-secret-that-is-at-least-32-bytes-long"


def expired_token(device):
    token = token_for(device, ttl="1s")
    time.sleep(2.5)
    return token


TOKEN_ATTACKS = [
    ("forged", lambda device: mint_jwt(claims_for(device), ATTACKER_SECRET),
     {"token signature invalid", "token signed with an unknown key"}, False),
    ("expired", expired_token, {"token expired"}, False),
    ("other-device", lambda device: token_for(device + "-owner"), {"token is for another device"}, False),
    ("alg-none", lambda device: mint_jwt(claims_for(device), "", alg="none"), None, False),
    ("wrong-audience", lambda device: mint_jwt(claims_for(device, aud="some-other-service"), CFG.secret),
     {"token is for another audience"}, True),
]


def hello_attack(attack, make_token, want_message, needs_secret):
    name = f"token-{attack}"

    @case(name)
    def run():
        device = dev(f"tok-{attack}")
        note = "" if CFG.secret_ok or not needs_secret else \
            " [cannot be told apart from a bad signature: a token minted with --secret was refused, so --secret " \
            "is not the edge's secret]"
        return token_case(name, device, make_token(device), want_message, note)


for attack in TOKEN_ATTACKS:
    hello_attack(*attack)


@case("token-empty")
def token_empty():
    device = dev("tok-empty")
    return token_case("token-empty", device, "", {"missing token"})


@case("token-100kb")
def token_100kb():
    device = dev("tok-100k")
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = claims_for(device)
    claims["pad"] = "p" * 75_000
    token = f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(os.urandom(32))}"[:100 * 1024]
    token = token + "A" * (100 * 1024 - len(token))
    return token_case("token-100kb", device, token, {"token malformed", "token signature invalid"})


@case("token-30kb")
def token_30kb():
    device = dev("tok-30k")
    claims = claims_for(device)
    claims["pad"] = "p" * 22_000
    token = mint_jwt(claims, CFG.secret)
    return token_case("token-30kb", device, token, None,
                      f" ({len(token)} bytes: fits in one frame, far over any sane token size)")


@case("token-garbage")
def token_garbage():
    device = dev("tok-garbage")
    return token_case("token-garbage", device, "%%not a jwt%%.\u00ff\u2603.!!!", {"token malformed"})


# ---- Refresh: the token attacks again, on a welcomed connection


def refresh_case(name, device, token, want_message):
    """On a welcomed connection, refresh with token → error auth_failed (ref "refresh"; message in want_message, or
    any when None); the connection stays open with its old token."""
    try:
        ws, _ = welcomed(device)
    except SetupError as e:
        return name, "a welcome first", str(e), False
    try:
        ws.send_text(json.dumps({"type": "refresh", "token": token}, separators=(",", ":")))
        ev, events = ws.wait_for(lambda e: error_of(e) is not None or is_close(e), 10)
        observed = describe_events(events, 10)
        wanted = "any message" if want_message is None else "\"" + "\" or \"".join(sorted(want_message)) + "\""
        expected = f"error auth_failed ref refresh ({wanted}), connection stays open"
        err = error_of(ev) if ev is not None else None
        message = (ev.frame.get("message") or "") if err is not None else ""
        ok = err == "auth_failed" and ev.frame.get("ref") == "refresh" \
            and (want_message is None or message.removeprefix("refresh refused: ") in want_message) \
            and ws.alive()
        return name, expected, observed + ("" if ws.done else " · still open"), ok
    finally:
        ws.close()


def refresh_attack(attack, make_token, want_message, needs_secret):
    name = f"refresh-{attack}"

    @case(name)
    def run():
        device = dev(f"ref-{attack}")
        return refresh_case(name, device, make_token(device),
                            want_message if CFG.secret_ok or not needs_secret else None)


for attack in TOKEN_ATTACKS:
    refresh_attack(*attack)


@case("refresh-flood")
def refresh_flood():
    name = "refresh-flood"
    device = dev("ref-flood")
    try:
        ws, _ = welcomed(device)
    except SetupError as e:
        return name, "a welcome first", str(e), False
    try:
        for i in range(20):
            ws.send_text(json.dumps({"type": "refresh", "token": f"garbage-{i}"}))
        events = ws.collect(5, stop=is_close)
        errors = [e for e in events if error_of(e) == "auth_failed"]
        too_often = [e for e in errors if (e.frame.get("message") or "").startswith("refresh too often")]
        expected = "20 refreshes: 20 auth_failed, all but the first 3 \"refresh too often\" (not verified), " \
                   "connection stays open"
        observed = f"{len(errors)} auth_failed, {len(too_often)} too often" + ("" if ws.done else " · still open")
        ok = len(errors) == 20 and len(too_often) == 17 and ws.alive()
        return name, expected, observed, ok
    finally:
        ws.close()


# ---- Identity spoofing


@case("spoof-device-field")
def spoof_device():
    name = "spoof-device-field"
    victim, attacker = dev("victim"), dev("spoofer")
    vws, _ = welcomed(victim)
    aws = None
    try:
        aws, _ = welcomed(attacker)
        frame = {
            "device": victim, "type": "msg", "service": "echo", "id": "spoof-1",
            "headers": {"device": victim, "id": "x", "content-type": "application/octet-stream"},
            "key": victim, "sub": victim, "edge": "edge-evil", "session": "s-evil",
            "content-type": "application/octet-stream", "in-reply-to": "zzz", "received-at": "0",
            "body": {"to": "victim"},
        }
        text = json.dumps(frame, separators=(",", ":"))
        text = text[:-1] + ',"device":' + json.dumps(victim) + "}"  # and again last, in case the last one counts
        aws.send_text(text)
        ack, a_events = aws.wait_for(lambda e: e.terminal or (e.type == "ack" and e.frame.get("id") == "spoof-1")
                                     or error_of(e) is not None, 15)
        reply, r_events = aws.wait_for(lambda e: e.terminal or (e.type == "msg" and e.frame.get("id") == "echo-spoof-1"),
                                       15)
        v_events = [e for e in vws.collect(3.0) if e.kind != "timeout"]
        stolen = [e for e in v_events if e.type == "msg"]
        parts = ["sender: " + describe_events(a_events + r_events, 15)]
        ok = ack is not None and ack.type == "ack" and reply is not None and reply.type == "msg"
        if ok:
            body_ok = reply.frame.get("body") == {"to": "victim"} and "data" not in reply.frame
            if not body_ok:
                parts.append(f"echo reply changed: {reply.data[:120]!r}")
            ok = body_ok
        parts.append(f"{victim}: " + (describe_events(v_events) if v_events else "nothing in 3 s"))
        ok = ok and not stolen
        return name, "spoofed fields ignored: the sender gets ack spoof-1 and the echo reply (same JSON body), " \
                     "the named device receives nothing in 3 s", "; ".join(parts), ok
    finally:
        vws.close()
        if aws:
            aws.close()


# ---- The edge survived


@case("survivor-round-trip")
def survivor():
    name = "survivor-round-trip"
    t0 = time.monotonic()
    ws, welcome = welcomed(dev("survivor"))
    try:
        body = '{"still":"alive","n":[1,2,3]}'
        ws.send_text(msg_frame("alive-1", body))
        ack, events = ws.wait_for(lambda e: e.terminal or error_of(e) is not None or
                                  (e.type == "ack" and e.frame.get("id") == "alive-1"), 15)
        echo, more = ws.wait_for(lambda e: e.terminal or (e.type == "msg" and e.frame.get("id") == "echo-alive-1"), 15)
        observed = "welcome, " + describe_events(events + more, 15)
        ok = ack is not None and ack.type == "ack" and echo is not None and echo.type == "msg" \
            and echo.data.endswith(b'"body":' + body.encode() + b"}")
        if ok:
            observed = f"welcome, ack alive-1, echo reply with the same body in {time.monotonic() - t0:.1f} s"
        return name, "a fresh device gets welcome, ack and its echo reply", observed, ok
    finally:
        ws.close()


# --------------------------------------------------------------------------------------------------------------


def run_case(name, fn):
    try:
        result = fn()
    except SetupError as e:
        result = (name, "(could not run the case)", str(e), False)
    except Exception as e:  # a bug here, or the edge vanished mid-case
        result = (name, "(case raised)", f"{e.__class__.__name__}: {e}", False)
    return result


def preflight():
    """Checks the edge and the token command; learns maxMessageBytes; checks whether --secret is the edge's."""
    ws, welcome = welcomed(dev("preflight"))
    CFG.max_message_bytes = int(welcome.get("maxMessageBytes") or 65536)
    ws.close()
    device = dev("preflight-secret")
    ws = handshake(device)
    try:
        ws.send_text(hello_frame(device, mint_jwt(claims_for(device), CFG.secret)))
        ev, _ = ws.wait_for(lambda e: e.type == "welcome" or e.terminal, 10)
        CFG.secret_ok = ev is not None and ev.type == "welcome"
    finally:
        ws.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--edge", help="ws://host:port/v1/channel (or wss://)")
    p.add_argument("--token-cmd", help='command printing a token; {device} is replaced, e.g. '
                                       '"gateway token --device {device}"')
    p.add_argument("--only", help="comma-separated case names or name prefixes (e.g. token,ws-unmasked-frame)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--secret", default=os.environ.get("CG_TOKEN_SECRET", DEV_SECRET),
                   help="the edge's token secret, for the wrong-audience token (default $CG_TOKEN_SECRET or the "
                        "development secret)")
    p.add_argument("--kid", default=None, help="kid to put in the header of tokens minted here (default none: the "
                                                "edge then tries its first key)")
    p.add_argument("--hello-timeout", type=float, default=10, help="the edge's hello timeout in s (default 10)")
    p.add_argument("--handshake-timeout", type=float, default=10,
                   help="the edge's HTTP handshake timeout in s (default 10)")
    p.add_argument("--conn-cap", type=int, default=None,
                   help="the edge's per-IP connection cap, if any; the 300-connection flood then expects at most this "
                        "many upgrades")
    p.add_argument("--origin", default=None, help="Origin header to send on every upgrade (for an Origin allow-list)")
    p.add_argument("--cafile", default=None, help="CA file for wss://")
    p.add_argument("--insecure", action="store_true", help="wss:// without certificate checks")
    args = p.parse_args()

    if args.list:
        for name, _ in CASES:
            print(name)
        return 0
    if not args.edge or not args.token_cmd:
        p.error("--edge and --token-cmd are required")

    url = urlsplit(args.edge)
    if url.scheme not in ("ws", "wss") or not url.hostname:
        p.error("--edge must be ws://host:port/path or wss://host:port/path")
    CFG.__dict__.update(vars(args))
    CFG.tls = url.scheme == "wss"
    CFG.host = url.hostname
    CFG.port = url.port or (443 if CFG.tls else 80)
    CFG.path = (url.path or "/v1/channel") + (f"?{url.query}" if url.query else "")
    CFG.max_message_bytes = 65536
    CFG.secret_ok = False

    selected = CASES
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        selected = [(n, f) for n, f in CASES if any(n == w or n.startswith(w) for w in wanted)]
        if not selected:
            p.error(f"no case matches --only {args.only}; see --list")

    try:
        preflight()
    except (SetupError, OSError) as e:
        print(f"cannot start: {e}", file=sys.stderr)
        return 2

    results = []
    for name, fn in selected:
        t0 = time.monotonic()
        r = run_case(name, fn)
        results.append(r)
        if os.environ.get("ATTACKS_VERBOSE"):
            print(f"  ... {name} took {time.monotonic() - t0:.1f} s", file=sys.stderr)

    passed = 0
    for name, expected, observed, ok in results:
        passed += 1 if ok else 0
        print(f"{'PASS' if ok else 'FAIL'} {name}: expected {expected}; observed {observed}")
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
