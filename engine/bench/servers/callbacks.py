"""A loopback HTTP server standing in for a chat platform's reply endpoint; it can fail, hang or answer garbage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.ingest.webhook_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


class CallbackReceiver:
    """Records every POST; `fault(n)` picks what the n-th request gets: None (200), 'status:500', 'hang', 'garbage'.

    Like a platform honouring `Idempotency-Key`, it delivers a key to the customer once (`delivered`, with the time
    its first copy arrived), and keeps every request it saw (`received`). A 'hang' records the request first, as a
    platform that is slow to answer would.
    """

    def __init__(
        self, secret: str = "", fault: Callable[[int], str | None] = lambda n: None, *, hang_seconds: float = 30.0
    ) -> None:
        self.secret = secret
        self.hang_seconds = hang_seconds
        self.fault = fault
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self._closed = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = receiver.record(dict(self.headers), body)
                if fault == "hang":
                    receiver._closed.wait(receiver.hang_seconds)
                    return
                if fault == "garbage":
                    self.wfile.write(b"\x00\x17garbage, not HTTP\r\n\r\n")
                    return
                status = int(fault.split(":")[1]) if fault and fault.startswith("status:") else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/replies"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, headers: dict[str, str], body: bytes) -> str | None:
        """Keep a request and decide its fault; a correctly signed request that is not refused is delivered."""
        with self.lock:
            self.received.append((headers, body))
            fault = self.fault(len(self.received))
            timestamp = headers.get(TIMESTAMP_HEADER, "")
            if self.secret and headers.get(SIGNATURE_HEADER) != sign(self.secret, body, timestamp):
                self.bad_signatures += 1
                return "status:401"
            if fault is None or fault == "hang":
                key = headers.get("Idempotency-Key", "")
                first = json.loads(body) | {"copies": 0, "received_at": time.time()}
                self.delivered.setdefault(key, first)["copies"] += 1
            return fault

    def close(self) -> None:
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()
