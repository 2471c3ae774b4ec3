"""The one way LabelOp sends anything out: a POST to a registered model endpoint, pinned to
addresses checked before connecting (no private targets unless allowed, no redirects)."""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import urllib3


class Refused(Exception):
    """The call was not made, or its answer not used; the message says why."""


MAX_ANSWER = 5 * 1024 * 1024


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


def post_image(url: str, data: bytes, content_type: str, *, allow_private_network: bool,
               timeout: float = 30.0) -> Any:
    """POST the image to the endpoint and answer its JSON. Redirects are refused, not
    followed; answers over MAX_ANSWER bytes are refused."""
    scheme, host, port, address = vetted_target(url, allow_private_network=allow_private_network)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED",
                                           timeout=timeout, retries=False)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    name = f"[{host}]" if ":" in host else host  # an IPv6 literal
    host_header = name if parts.port is None else f"{name}:{port}"
    try:
        with pool:
            response = pool.urlopen("POST", path, body=data, redirect=False, retries=False,
                                    preload_content=False, headers={
                                        "Host": host_header, "Content-Type": content_type,
                                        "Accept": "application/json"})
            if 300 <= response.status < 400:
                raise Refused(f"The endpoint answered a redirect ({response.status}); "
                              "redirects are never followed.")
            body = response.read(MAX_ANSWER + 1)
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise Refused(f"The endpoint could not be reached: {exc}.") from exc
    if response.status >= 400:
        raise Refused(f"The endpoint answered {response.status}.")
    if len(body) > MAX_ANSWER:
        raise Refused("The endpoint's answer is larger than 5 MiB.")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Refused("The endpoint's answer is not JSON.") from exc
