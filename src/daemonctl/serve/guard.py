"""Who may ask what: the Host header (DNS rebinding), the Origin of changes (CSRF), the token.

Pure functions of the request's headers, so each rule is tested alone.
"""

import hmac
import ipaddress
from urllib.parse import urlsplit

from daemonctl.speedups import NamedTuple


class Refusal(NamedTuple):
    status: int  # 400, 401 or 403
    message: str


def split_host(value: str) -> tuple[str, str | None]:
    """The host and port of a Host header value ("[::1]:80" -> ("::1", "80")); ValueError when malformed."""
    value = value.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(value)
        port = rest[1:] or None
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep:
            host, port_text = value, ""
        port = port_text or None
    if not host or (port is not None and not port.isdigit()) or (":" in host and not value.startswith("[")):
        raise ValueError(value)
    return host.lower().rstrip("."), port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_allowed(host: str, names: frozenset[str]) -> bool:
    """A host a browser can only reach us by: an IP address, localhost, or one of `names`.

    DNS rebinding points a name the attacker owns at this machine; the browser then
    sends that name as Host, and it is refused here.
    """
    return _is_ip(host) or host == "localhost" or host.endswith(".localhost") or host in names


def check_host(values: list[str], names: frozenset[str]) -> Refusal | None:
    if len(values) != 1:
        return Refusal(400, "the request must carry exactly one Host header")
    try:
        host, _ = split_host(values[0])
    except ValueError:
        return Refusal(400, f"malformed Host header {values[0][:100]!r}")
    if not host_allowed(host, names):
        return Refusal(403, f"Host {host[:100]!r} is not this server's (a DNS rebinding attempt?); "
                            "use its address, or localhost")
    return None


def check_origin(origin: str | None, fetch_site: str | None, host_header: str) -> Refusal | None:
    """A change comes from our own page or from a client that is no browser (no Origin).

    A browser sends Origin with every POST; a page of another site sends its own.
    """
    if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
        return Refusal(403, f"cross-site request refused (Sec-Fetch-Site: {fetch_site[:40]})")
    if origin is None:
        return None
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != host_header.strip().lower():
        return Refusal(403, f"request from another origin refused (Origin: {origin[:100]})")
    return None


def check_token(authorization: str | None, token: bytes | None) -> Refusal | None:
    """`Authorization: Bearer TOKEN`, compared in constant time; None when no token is required."""
    if token is None:
        return None
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8", "replace"), token):
        return Refusal(401, "missing or wrong token: send Authorization: Bearer TOKEN (the token file's content)")
    return None
