"""The one way LabelOp sends anything out: a POST to a registered model endpoint, pinned to
addresses checked before connecting (no private targets unless allowed, no redirects)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import urllib3

from labelop.core.addresses import Refused, vetted_target

MAX_ANSWER = 5 * 1024 * 1024


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
