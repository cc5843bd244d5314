"""Real SMTP servers on loopback for tests and the day bench: aiosmtpd that records, and a scripted faulty one."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_table(port: int, more: dict[str, Any]) -> dict[str, Any]:
    """The `[smtp]` settings table of a loopback server, sending as help@shop.example; `more` overrides."""
    return {"host": "127.0.0.1", "port": port, "from": "help@shop.example", "domain": "shop.example"} | more


class Mailbox:
    """aiosmtpd handler keeping every message it accepts; `refuse` can turn an attempt down (code and text)."""

    def __init__(self, refuse: Callable[[int], str | None] = lambda n: None, reject_rcpt: str = "") -> None:
        self.messages: list[bytes] = []
        self.attempts = 0
        self.refuse = refuse
        self.reject_rcpt = reject_rcpt  # an address the server answers 550 for (a bounce)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.reject_rcpt and address == self.reject_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            refusal = self.refuse(self.attempts)
            if refusal:
                return refusal
            self.messages.append(envelope.content)
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        """The accepted messages, parsed."""
        with self.lock:
            return [message_from_bytes(raw, _class=EmailMessage, policy=policy.default) for raw in self.messages]


class SmtpServer:
    """An aiosmtpd server on a loopback port, recording into a Mailbox."""

    def __init__(self, mailbox: Mailbox | None = None) -> None:
        self.mailbox = mailbox or Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def settings(self, **more: Any) -> dict[str, Any]:
        """The `[smtp]` table pointing at this server."""
        return smtp_table(self.port, more)

    def close(self) -> None:
        self.controller.stop()


class RawServer:
    """A TCP server on a loopback port whose accept loop hands each connection to `accepted` (in a thread)."""

    def __init__(self, backlog: int = 128) -> None:
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.port = int(self.listener.getsockname()[1])
        self._closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            self.accepted(conn)

    def accepted(self, conn: socket.socket) -> None:
        """Deal with one new connection without blocking the accept loop."""
        raise NotImplementedError

    def close(self) -> None:
        self._closed.set()
        self.listener.close()


class FaultySmtp(RawServer):
    """A raw SMTP server that misbehaves one way: 'greet_421', 'hang_greeting', 'drop_mid_data', 'hang_after_data'."""

    def __init__(self, fault: str, hang_seconds: float = 5.0) -> None:
        self.fault = fault
        self.hang_seconds = hang_seconds
        super().__init__()

    def accepted(self, conn: socket.socket) -> None:
        threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            if self.fault == "greet_421":
                conn.sendall(b"421 4.3.2 service not available, try later\r\n")
                return
            if self.fault == "hang_greeting":
                self._closed.wait(self.hang_seconds)
                return
            conn.sendall(b"220 faulty ESMTP\r\n")
            buffer = b""
            while not self._closed.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    command = line[:4].upper()
                    if command in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 faulty\r\n")
                    elif command in (b"MAIL", b"RCPT"):
                        conn.sendall(b"250 OK\r\n")
                    elif command == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        self._data(conn, buffer)
                        return
                    else:
                        conn.sendall(b"250 OK\r\n")

    def _data(self, conn: socket.socket, buffer: bytes) -> None:
        if self.fault == "drop_mid_data":
            time.sleep(0.05)
            conn.recv(16)  # read a little of the message, then hang up
            return
        while b"\r\n.\r\n" not in buffer:  # hang_after_data: take the whole message, never answer
            data = conn.recv(65536)
            if not data:
                return
            buffer += data
        self._closed.wait(self.hang_seconds)

    def settings(self, **more: Any) -> dict[str, Any]:
        """The `[smtp]` table pointing at this server."""
        return smtp_table(self.port, more)


class FlakyProxy(RawServer):
    """A TCP proxy in front of a server: each connection is refused, hangs, or is passed through, as `fault()` says.

    `fault()` returns 'refuse' (closed at once), 'hang' (held open silently for `hang_seconds`) or None (passed).
    """

    def __init__(self, target_port: int, fault: Callable[[], str | None], hang_seconds: float = 2.0) -> None:
        self.target_port = target_port
        self.fault = fault
        self.hang_seconds = hang_seconds
        self.faults: dict[str, int] = {"refuse": 0, "hang": 0, "passed": 0}
        super().__init__()

    def accepted(self, conn: socket.socket) -> None:
        fault = self.fault()
        self.faults[fault or "passed"] += 1
        if fault == "refuse":
            conn.close()
        else:
            threading.Thread(target=self._handle, args=(conn, fault), daemon=True).start()

    def _handle(self, conn: socket.socket, fault: str | None) -> None:
        if fault == "hang":
            self._closed.wait(self.hang_seconds)
            conn.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()
        _pipe(conn, upstream)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until either side closes, then close both."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
