"""A fault-injecting HTTP proxy on loopback, between the client and the real service (test helper).

It forwards every request to the service (keeping the ``Host`` header, so the service's absolute
download URLs point back at the proxy) unless a rule matches first:

- ``fail(status, times)``: answer ``status`` with the API's error envelope (and ``Retry-After``);
- ``cut(times, after=N)``: forward, but send only the first N body bytes, then drop the connection;
- ``delay(seconds, times)``: wait before forwarding (to provoke the client's timeout);
- ``ignore_range(times)``: drop the ``Range`` header (the service then answers 200 with everything);
- ``drop(times)``: close the connection without any answer;
- ``rewrite(old, new, times)``: replace bytes in the forwarded body (e.g. a status a test needs to see);
- ``rate_limit(per_minute, time_scale=1)``: a hosted plan's limit (FREE: 10 a minute) on a fixed window;
  requests past it get 429 with ``Retry-After`` (seconds to the window's end, decimals allowed).
  ``time_scale=60`` runs the minute in one second, so a test of 10/min takes seconds, not minutes.

``proxy.log`` records every request: method, path, Range header, what the proxy did, arrival time.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}


@dataclass
class Rule:
    action: str                      # fail | cut | delay | ignore_range | drop | rewrite
    times: int
    method: str | None = None
    path: str | None = None          # substring of the request path
    status: int = 503
    retry_after: str | None = None
    after: int = 0                   # cut: body bytes to send
    seconds: float = 0.0             # delay
    old: bytes = b""                 # rewrite
    new: bytes = b""

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and (self.method is None or self.method == method) and \
            (self.path is None or self.path in path)


@dataclass
class Seen:
    method: str
    path: str
    range: str | None
    action: str
    at: float = field(default_factory=time.monotonic)


class FaultProxy:
    """``with FaultProxy("http://127.0.0.1:PORT") as proxy: ...``; ``proxy.base_url`` ends in /api/v2."""

    def __init__(self, upstream_root: str) -> None:
        parts = urlsplit(upstream_root)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.log: list[Seen] = []
        self.limit: tuple[int, float] | None = None  # (requests, window seconds)
        self._window: tuple[float, int] = (0.0, 0)   # (start, requests counted)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (timeout) or a cut connection is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.root_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = f"{self.root_url}/api/v2"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)

    # ------------------------------------------------------------------ set-up
    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(self, status: int, times: int = 1, *, method: str | None = None, path: str | None = None,
             retry_after: str | None = None) -> Rule:
        return self._add(Rule("fail", times, method, path, status=status, retry_after=retry_after))

    def cut(self, times: int = 1, *, after: int, method: str | None = "GET", path: str | None = None) -> Rule:
        return self._add(Rule("cut", times, method, path, after=after))

    def delay(self, seconds: float, times: int = 1, *, method: str | None = None, path: str | None = None) -> Rule:
        return self._add(Rule("delay", times, method, path, seconds=seconds))

    def ignore_range(self, times: int = 1, *, path: str | None = None) -> Rule:
        return self._add(Rule("ignore_range", times, "GET", path))

    def drop(self, times: int = 1, *, method: str | None = None, path: str | None = None) -> Rule:
        return self._add(Rule("drop", times, method, path))

    def rewrite(self, old: bytes, new: bytes, times: int = 1, *, method: str | None = "GET",
                path: str | None = None) -> Rule:
        return self._add(Rule("rewrite", times, method, path, old=old, new=new))

    def rate_limit(self, per_minute: int, time_scale: float = 1.0) -> None:
        """At most ``per_minute`` requests a minute (a minute lasting ``60 / time_scale`` seconds)."""
        with self._lock:
            self.limit, self._window = (per_minute, 60.0 / time_scale), (time.monotonic(), 0)

    def _over_limit(self) -> float | None:
        """Seconds to wait when this request is past the limit (None: it may go)."""
        with self._lock:
            if self.limit is None:
                return None
            allowed, window = self.limit
            start, count = self._window
            now = time.monotonic()
            if now - start >= window:
                start, count = now, 0
            if count >= allowed:
                self._window = (start, count)
                return max(0.01, window - (now - start))
            self._window = (start, count + 1)
            return None

    def seen(self, path: str | None = None, method: str | None = None) -> list[Seen]:
        """Requests that reached the proxy (optionally only those whose path contains ``path``)."""
        with self._lock:
            return [s for s in self.log if (path is None or path in s.path) and (method is None or s.method == method)]

    # ------------------------------------------------------------------ serving
    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.times -= 1
                    return rule
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        wait = self._over_limit()
        rule = Rule("fail", 1, status=429, retry_after=f"{wait:.2f}") if wait is not None else self._take(method, path)
        action = ("rate_limited" if wait is not None else rule.action) if rule else "forward"
        with self._lock:
            self.log.append(Seen(method, path, h.headers.get("Range"), action))
        if rule is not None and rule.action == "drop":
            h.close_connection = True
            return
        if rule is not None and rule.action == "fail":
            payload = json.dumps({"error": {"code": "RATE_LIMITED" if rule.status == 429 else "INJECTED_FAULT",
                                            "message": f"injected {rule.status}", "details": {}},
                                  "request_id": "req_fault_proxy"}).encode()
            h.send_response(rule.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.send_header("X-Request-ID", "req_fault_proxy")
            if rule.retry_after is not None:
                h.send_header("Retry-After", rule.retry_after)
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(payload)
            h.close_connection = True
            return
        if rule is not None and rule.action == "delay":
            time.sleep(rule.seconds)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
        if rule is not None and rule.action == "ignore_range":
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if rule is not None and rule.action == "rewrite":
                data = data.replace(rule.old, rule.new)
            out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            status = resp.status
        finally:
            conn.close()
        try:
            h.send_response(status)
            for k, v in out_headers:
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            if rule is not None and rule.action == "cut":
                h.wfile.write(data[:rule.after])
                h.wfile.flush()
            elif method != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True
