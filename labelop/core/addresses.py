"""Whether LabelOp may call a URL a person typed: its host's every address is checked
before connecting (no private targets unless allowed; never link-local, where cloud
metadata services answer). Model endpoints and S3 storage endpoints both pass through here."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class Refused(Exception):
    """The call was not made, or its answer not used; the message says why."""


# IPv6 ranges that carry or reach IPv4 addresses (NAT64, 6to4, Teredo, IPv4-compatible) or
# are deprecated site-local: Python 3.11 counts most of them as global.
_TUNNELS = [ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96", "fec0::/10")]


def _kind(address: str) -> str:
    """'public', 'private' (an internal network, loopback included) or 'never' (link-local,
    where cloud metadata services answer; multicast; unspecified)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif any(ip in net for net in _TUNNELS):
            return "private"
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return "never"
    return "public" if ip.is_global else "private"


def vetted_target(url: str, *, allow_private_network: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) of an endpoint URL whose every address may be called;
    Refused otherwise. The address is what the call connects to, so a DNS answer that
    changes between this check and the call cannot redirect it (rebinding)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise Refused(f"The URL cannot be read: {exc}.") from exc
    if parts.scheme not in {"http", "https"} or not host:
        raise Refused("The URL must be https:// (or http:// on the private network) with a "
                      "host.")
    if parts.scheme == "http" and not allow_private_network:
        raise Refused("Images travel to an external model over https:// only.")
    if parts.username or parts.password:
        raise Refused("Credentials in the URL are not accepted.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"The host {host} does not resolve: {exc}.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))  # resolver's order
    kinds = {a: _kind(a) for a in addresses}
    never = [a for a, k in kinds.items() if k == "never"]
    private = [a for a, k in kinds.items() if k == "private"]
    if never:
        raise Refused(f"{host} resolves to a link-local, multicast or unspecified address "
                      f"({', '.join(never)}); no endpoint may be there.")
    if private and not allow_private_network:
        raise Refused(f"{host} resolves to a private or loopback address "
                      f"({', '.join(private)}); a site admin must allow the private network "
                      "for this endpoint.")
    return parts.scheme, host, port, addresses[0]
