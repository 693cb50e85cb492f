"""Search cursors: the next page's offset and the catalog position a paged search is pinned to.

The position (the newest asset row when the first page was served) is sealed with a key of the
collection (`Catalog.secret("cursor_key")`): an HMAC-derived mask with a random nonce hides it, so a
cursor says nothing about how many assets, private ones included, the collection holds, and a tag
stops anyone from editing it (issue 13).
"""

import base64
import hashlib
import hmac
import json
import secrets

from indexer.errors import InvalidInput


def _mask(key: bytes, nonce: bytes) -> int:
    return int.from_bytes(hmac.new(key, b"mask" + nonce, hashlib.sha256).digest()[:8], "big")


def decode_cursor(cursor: str, fingerprint: str, key: bytes) -> tuple[int, int]:
    """(offset, as_of) from a cursor made by `encode_cursor` for the same query and collection."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        offset, sealed, nonce, tag = int(data["o"]), int(data["a"]), bytes.fromhex(data["n"]), str(data["t"])
        fp = str(data["f"])
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise InvalidInput("the cursor is not valid", "pass next_cursor from the previous page unchanged") from None
    if fp != fingerprint:
        raise InvalidInput("the cursor belongs to another query", "start again without a cursor")
    expected = hmac.new(key, f"{offset}:{sealed}:{fp}".encode() + nonce, hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, tag):
        raise InvalidInput("the cursor is not valid", "pass next_cursor from the previous page unchanged")
    return offset, sealed ^ _mask(key, nonce)


def encode_cursor(offset: int, as_of: int, fingerprint: str, key: bytes) -> str:
    """The next page's cursor. The catalog position it pins (`as_of`, the newest asset row when the first
    page was served) is sealed with the collection's own key, so a cursor says nothing about how many
    assets, private ones included, the collection holds; the tag stops anyone from editing it."""
    nonce = secrets.token_bytes(8)
    sealed = as_of ^ _mask(key, nonce)
    tag = hmac.new(key, f"{offset}:{sealed}:{fingerprint}".encode() + nonce, hashlib.sha256).hexdigest()[:32]
    raw = json.dumps({"o": offset, "a": sealed, "n": nonce.hex(), "t": tag, "f": fingerprint},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
