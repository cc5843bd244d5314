"""A private Dovecot IMAP server on a loopback port (Debian's dovecot-imapd; it must start as root)."""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.bench.servers.mail import free_port

USER, PASSWORD = "support", "imap-test-password"
DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
"""


def dovecot_missing() -> str | None:
    """Why a private Dovecot cannot start here, or None."""
    if shutil.which("dovecot") is None:
        return "Debian's dovecot-imapd is not installed (apt-get install -y dovecot-imapd)"
    if os.geteuid() != 0:
        return "a private Dovecot must start as root to drop to its service users"
    return None


class Dovecot:
    """One passwd-file user and a temp maildir; `settings` is the `[imap]` table pointing at it."""

    def __init__(self) -> None:
        missing = dovecot_missing()
        if missing:
            raise RuntimeError(missing)
        self.root = Path(tempfile.mkdtemp(prefix="caredesk-dovecot-"))  # outside 0700 temp dirs: Dovecot reads it
        self.port = free_port()
        self.root.chmod(0o755)
        (self.root / "mail").mkdir()
        shutil.chown(self.root / "mail", "dovecot", "dovecot")
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        (self.root / "dovecot.conf").write_text(DOVECOT_CONF.format(root=self.root, port=self.port))
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.root / "dovecot.conf")])
        try:
            _wait_for_port(self.port)
        except RuntimeError:
            self.close()
            raise

    @property
    def settings(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "user": USER, "password": PASSWORD, "mailbox": "INBOX"}

    def deliver(self, *raws: bytes) -> None:
        """Put messages into the mailbox through IMAP APPEND, as a mail server would."""
        with imaplib.IMAP4("127.0.0.1", self.port, timeout=10) as imap:
            imap.login(USER, PASSWORD)
            for raw in raws:
                status, _ = imap.append("INBOX", None, None, raw)
                if status != "OK":
                    raise OSError(f"IMAP APPEND failed: {status}")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")
