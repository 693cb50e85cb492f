"""Downloading a URL for ingest without letting the URL reach what it should not (SSRF).

- http and https only;
- the host is resolved once, and the request refused when ANY address it resolves to is loopback,
  private (RFC 1918, fc00::/7), link-local (169.254/16 with the 169.254.169.254 metadata address,
  fe80::/10), multicast, reserved, unspecified, shared (CGNAT 100.64/10), documentation or benchmark
  space, or such an address inside IPv4-mapped, 6to4 or Teredo IPv6; well-known metadata host names are
  refused by name. MEDIASEARCH_URL_ALLOW (hosts, `.suffix` domains, addresses or CIDRs) lifts the refusal;
- the connection goes to the vetted address itself (TLS still checks the certificate against the host
  name), so DNS cannot answer differently between the check and the connect (rebinding);
- redirects are followed by hand, each hop vetted the same way, at most MEDIASEARCH_URL_MAX_REDIRECTS;
- the body is streamed with a byte limit (refused mid-stream), a timeout per read, and a deadline for
  the whole download.

Whether the bytes are what the Content-Type says is left to the ingest pipeline, which decodes every
file fully (indexer/media/decoding.py, indexer/media/ffmpeg.py).
"""

import http.client
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from indexer.errors import FetchFailed, ForbiddenURL, InvalidInput, TooLarge
from indexer.media.decoding import AUDIO_SUFFIXES, VIDEO_SUFFIXES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_HINT = "to fetch from it anyway, add the host or its network to MEDIASEARCH_URL_ALLOW (e.g. 10.0.0.0/8)"
METADATA_HOSTS = {
    "metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal", "instance-data",
    "instance-data.ec2.internal", "metadata.tencentyun.com", "metadata.platformequinix.com",
}
# Ranges is_global does not cover in every Python version, refused explicitly.
BLOCKED_NETWORKS: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "::/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
USER_AGENT = "mediasearch-fetch/1"


@dataclass
class Fetched:
    url: str  # after redirects
    data: bytes
    content_type: str | None  # the media type, without parameters, lower case
    filename: str  # the last segment of the final URL's path, or ""


@dataclass
class AllowList:
    hosts: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.org" allows every name under example.org
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, spec: str | None) -> "AllowList":
        hosts, suffixes, networks = set(), [], []
        for entry in (e.strip().lower() for e in (spec or "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.replace("[", "").replace("]", ""), strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                entry = entry[1:]
            (suffixes.append if entry.startswith(".") else hosts.add)(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def host(self, name: str) -> bool:
        return name in self.hosts or any(name.endswith(s) for s in self.suffixes)

    def address(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64: the IPv4 address in the last 32 bits
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why an address must not be fetched from, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(ip.exploded.split("%")[0])
        inner = _embedded_ipv4(ip)
        if inner is not None and (why := blocked_reason(inner)):
            return f"{why} (inside IPv6 {ip})"
    kinds = [("a loopback address", ip.is_loopback), ("the unspecified address", ip.is_unspecified),
             ("a link-local address (where cloud metadata services live)", ip.is_link_local),
             ("a multicast address", ip.is_multicast), ("a reserved address", ip.is_reserved),
             ("a private address", ip.is_private)]
    for kind, hit in kinds:
        if hit:
            return kind
    if any(ip.version == n.version and ip in n for n in BLOCKED_NETWORKS) or not ip.is_global:
        return "a non-public address"
    return None


_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


def _host_address(host: str) -> IPAddress | None:
    """The address a URL host spells, in any form a resolver accepts (2130706433, 0177.0.0.1, 0x7f.1), or None
    for a name. Only the canonical dotted quad and IPv6 are accepted as literals; other numeric forms are
    refused: resolvers disagree about them."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    labels = host.split(".")
    if all(_NUMERIC_LABEL.fullmatch(label) for label in labels if label) and labels[-1]:
        raise ForbiddenURL(f"'{host}' is an IP address in a non-standard form",
                           "write IPv4 addresses as four decimal numbers, e.g. 93.184.216.34")
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"cannot resolve host '{host}': {exc}", "check the URL") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchFailed(f"host '{host}' has no address", "check the URL")
    return addresses


def vet(url: str, allow: AllowList) -> tuple[str, str, int, list[IPAddress], str]:
    """Check a URL and resolve its host: (scheme, host, port, the addresses to connect to, path?query).
    Raises ForbiddenURL for what must not be fetched."""
    if len(url) > 4096:
        raise InvalidInput("the URL is longer than 4,096 characters", "send a shorter URL")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidInput("the URL contains spaces or control characters", "percent-encode them")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise InvalidInput(f"'{url[:200]}' is not a valid URL ({exc})", "send an http:// or https:// URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ForbiddenURL(f"URL scheme '{scheme or 'none'}' is not allowed",
                           "only http:// and https:// URLs can be ingested")
    if not host:
        raise InvalidInput(f"'{url[:200]}' has no host", "send an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ForbiddenURL("URLs with a user name or password are not fetched", "send a URL without credentials")
    host = host.rstrip(".").lower()
    port = port or (443 if scheme == "https" else 80)
    host_allowed = allow.host(host)
    literal = _host_address(host)
    if host in METADATA_HOSTS and not host_allowed:
        raise ForbiddenURL(f"'{host}' is a cloud metadata service", ALLOW_HINT)
    addresses = [literal] if literal is not None else resolve(host, port)
    for ip in addresses:
        why = blocked_reason(ip)
        if why and not host_allowed and not allow.address(ip):
            shown = host if literal is not None else f"{host} ({ip})"
            raise ForbiddenURL(f"refusing to fetch from {shown}: {why}", ALLOW_HINT)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, host, port, addresses, target


def _connect(addresses: Sequence[IPAddress], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the first of the vetted addresses that answers (never a fresh DNS lookup)."""
    last: OSError | None = None
    for ip in addresses:
        try:
            return socket.create_connection((str(ip), port), timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address to connect to")


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to fixed addresses, with SNI and certificate checks against the URL's host name."""

    def __init__(self, host: str, addresses: Sequence[IPAddress], port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, addresses: Sequence[IPAddress], port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


def _host_header(host: str, port: int, scheme: str) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"


def fetch(
    url: str,
    *,
    allow: str | AllowList | None = None,
    limit: int = 50 * 1024 * 1024,
    media_limit: int | None = None,
    timeout: float = 10.0,
    deadline: float = 60.0,
    max_redirects: int = 5,
    accept: Sequence[str] = ("image/*", "video/*", "audio/*", "text/plain", "text/markdown"),
) -> Fetched:
    """Download a URL within the limits above. `limit` bounds pictures and texts, `media_limit` videos and
    audio (by their Content-Type); a body over its limit is refused while streaming."""
    allow_list = allow if isinstance(allow, AllowList) else AllowList.parse(allow)
    ends = time.monotonic() + deadline
    current = url
    for hop in range(max_redirects + 1):
        scheme, host, port, addresses, target = vet(current, allow_list)
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"fetching {url[:200]} took longer than {deadline:g} s", "try a faster server")
        cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        conn = cls(host, addresses, port, timeout=min(timeout, remaining))
        try:
            try:
                conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", _host_header(host, port, scheme))
                conn.putheader("User-Agent", USER_AGENT)
                conn.putheader("Accept", ", ".join(accept))
                conn.putheader("Accept-Encoding", "identity")
                conn.endheaders()
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise FetchFailed(f"cannot fetch {current[:200]}: {_reason(exc)}", "check that the URL works") from None
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise FetchFailed(f"{current[:200]} redirects ({response.status}) without a Location")
                current = urljoin(current, location.strip())
                continue
            if not 200 <= response.status < 300:
                raise FetchFailed(f"{current[:200]} answered HTTP {response.status} {response.reason}",
                                  "check that the URL is public and points at a file")
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower() or None
            name = unquote(PurePosixPath(urlsplit(current).path).name)
            media = (content_type or "").split("/")[0] in ("video", "audio") or (
                PurePosixPath(name).suffix.lower() in VIDEO_SUFFIXES | AUDIO_SUFFIXES)
            data = _read_body(response, conn, media_limit if media and media_limit else limit, current, ends,
                              timeout, deadline)
            return Fetched(url=current, data=data, content_type=content_type, filename=name)
        finally:
            conn.close()
    raise FetchFailed(f"{url[:200]} redirects more than {max_redirects} times", "send the final URL")


def _read_body(response: http.client.HTTPResponse, conn: http.client.HTTPConnection, limit: int, url: str,
               ends: float, timeout: float, deadline: float) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > limit:
        raise TooLarge(f"{url[:200]} is {int(declared):,} bytes, over the limit of {limit:,}",
                       "raise MEDIASEARCH_MAX_UPLOAD_BYTES (MEDIASEARCH_MAX_MEDIA_BYTES for videos and audio)")
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"fetching {url[:200]} took longer than {deadline:g} s", "try a faster server")
        if conn.sock is not None:
            conn.sock.settimeout(min(timeout, remaining))
        try:
            chunk = response.read1(CHUNK) if hasattr(response, "read1") else response.read(CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchFailed(f"reading {url[:200]} failed: {_reason(exc)}", "try again") from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"{url[:200]} is over the limit of {limit:,} bytes (stopped reading)",
                           "raise MEDIASEARCH_MAX_UPLOAD_BYTES (MEDIASEARCH_MAX_MEDIA_BYTES for videos and audio)")
        chunks.append(chunk)
    return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not valid ({exc.verify_message})"
    return str(exc) or type(exc).__name__


__all__ = ["AllowList", "Fetched", "blocked_reason", "fetch", "vet"]
