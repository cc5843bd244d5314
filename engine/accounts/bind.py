"""Refuse to serve beyond this machine without accounts, and say how to put TLS in front."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

TLS_HELP = """\
CareDesk speaks plain HTTP. To reach it from other machines, keep it on 127.0.0.1 and put a TLS reverse proxy
in front on the same machine, for example:

  Caddy (/etc/caddy/Caddyfile; obtains and renews a certificate itself):
      caredesk.example.org {{
          reverse_proxy 127.0.0.1:{port}
      }}

  nginx (with a certificate you already have):
      server {{
          listen 443 ssl;
          server_name caredesk.example.org;
          ssl_certificate     /etc/ssl/caredesk/fullchain.pem;
          ssl_certificate_key /etc/ssl/caredesk/privkey.pem;
          location / {{
              proxy_pass http://127.0.0.1:{port};
              proxy_http_version 1.1;
              proxy_set_header Upgrade $http_upgrade;      # the UI uses WebSockets
              proxy_set_header Connection "upgrade";
              proxy_set_header Host $host;
              proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
              proxy_set_header X-Forwarded-Proto https;
          }}
      }}
"""


class BindRefused(RuntimeError):
    """The server would be reachable from the network without accounts protecting it."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost names; False for 0.0.0.0, other addresses and host names."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind_address(host: str, has_accounts: bool, *, demo_accounts: Sequence[str] = (), port: int = 8080) -> None:
    """BindRefused (with TLS proxy instructions) for a non-loopback `host` without accounts or with demo passwords."""
    if is_loopback(host):
        return
    if not has_accounts:
        problem = (
            f"Refusing to listen on {host}: no user accounts exist, so anyone on the network could use CareDesk. "
            "Start once on 127.0.0.1, create the admin at /login, then restart."
        )
    elif demo_accounts:
        problem = (
            f"Refusing to listen on {host}: the demo accounts {', '.join(demo_accounts)} still have the passwords "
            "published in the README. Change or deactivate them at /admin (or set CAREDESK_DEMO=false on a fresh "
            "data dir), then restart."
        )
    else:
        log.warning(
            "serving plain HTTP on %s:%d: put a TLS reverse proxy in front\n%s", host, port, TLS_HELP.format(port=port)
        )
        return
    raise BindRefused(f"{problem}\n\n{TLS_HELP.format(port=port)}")
