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


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def vetted_target(url: str, *, allow_private_network: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) of an endpoint URL whose every address may be called;
    Refused otherwise. The address is what the call connects to, so a DNS answer that
    changes between this check and the call cannot redirect it (rebinding)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Refused("The URL must be http:// or https:// with a host.")
    if parts.username or parts.password:
        raise Refused("Credentials in the URL are not accepted.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise Refused(f"The host {parts.hostname} does not resolve: {exc}.") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    private = [a for a in addresses if not _public(a)]
    if private and not allow_private_network:
        raise Refused(f"{parts.hostname} resolves to a private, loopback or link-local address "
                      f"({', '.join(private)}); a site admin must allow the private network "
                      "for this endpoint.")
    return parts.scheme, parts.hostname, port, addresses[0]


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
    host_header = host if parts.port is None else f"{host}:{port}"
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
