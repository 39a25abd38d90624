"""The data-sync cursor: its state, and the sealed, opaque token a client holds.

Upstream encrypts a protobuf ``DataSyncCursor`` with AES-128-GCM-SIV keyed by the
deployment's secret and sends lowercase hex of ``01 ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte
tag`` (``crates/streaming_export/src/lib.rs``, ``crates/keybroker/src/encryptor.rs``). The
standard library has no AES, so the emulator seals its JSON state with a SHA-256 keystream and
an HMAC-SHA-256 tag in the same layout: the token is opaque, tamper-proof, different on every
issue, and opens only on the store that issued it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from convex_emulator.failures import ConvexError

_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_BLOCK = hashlib.sha256().digest_size
SYNC_PURPOSE = b"data sync cursor"
LIST_PURPOSE = b"query cursor"

# A semver version: what ``ClientVersion::from_str`` strips from the right of Convex-Client.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
_SYNC_ID_PREFIXES = {
    "fivetran-export": "fivetran-",
    "fivetran-import": "fivetran-",
    "airbyte-export": "airbyte-",
}


@dataclass
class SyncState:
    """``DataSyncCursor`` plus the sync id: what a data-sync token carries.

    ``current`` is the in-progress tablet (``None`` once every target is synced) and
    ``current_id`` the last id emitted from it by a ``by_id`` page.
    """

    synced_ts: int
    sync_id: str
    synced: set[str] = field(default_factory=set)
    current: str | None = None
    current_id: str | None = None
    current_docs: int = 0
    num_docs: int = 0

    def tracked(self) -> set[str]:
        """The synced tablets and the in-progress one."""
        return self.synced | ({self.current} if self.current is not None else set())

    def captures(self, tablet_id: str, doc_id: str) -> bool:
        """Whether a revision of this document belongs in a ts page."""
        if tablet_id in self.synced:
            return True
        return (
            tablet_id == self.current and self.current_id is not None and doc_id <= self.current_id
        )

    def to_json(self) -> dict[str, Any]:
        """The payload that gets sealed."""
        return {
            "ts": self.synced_ts,
            "synced": sorted(self.synced),
            "current": None if self.current is None else [self.current, self.current_id],
            "docs": [self.current_docs, self.num_docs],
            "syncId": self.sync_id,
        }

    @classmethod
    def from_json(cls, raw: Any) -> SyncState:
        """Rebuild a state; ``ValueError`` for anything missing or mistyped."""
        try:
            synced_ts, synced, current = raw["ts"], raw["synced"], raw["current"]
            (current_docs, num_docs), sync_id = raw["docs"], raw["syncId"]
        except (TypeError, KeyError, ValueError):
            raise ValueError("incomplete cursor") from None
        counters = (synced_ts, current_docs, num_docs)
        if not all(type(n) is int and n >= 0 for n in counters) or not isinstance(sync_id, str):
            raise ValueError("mistyped cursor")
        if not isinstance(synced, list) or not all(isinstance(t, str) for t in synced):
            raise ValueError("mistyped synced tables")
        state = cls(synced_ts, sync_id, set(synced), None, None, current_docs, num_docs)
        if current is not None:
            tablet, doc_id = current  # a TypeError or ValueError if it is not a pair
            if not isinstance(tablet, str) or not (doc_id is None or isinstance(doc_id, str)):
                raise ValueError("mistyped in-progress table")
            state.current, state.current_id = tablet, doc_id
        return state


def _keystream(key: bytes, purpose: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (
        hashlib.sha256(key + purpose + nonce + n.to_bytes(4, "big")).digest()
        for n in range(-(-length // _BLOCK))
    )
    return b"".join(blocks)[:length]


def _tag(key: bytes, purpose: bytes, sealed: bytes) -> bytes:
    return hmac.new(key + purpose, sealed, hashlib.sha256).digest()[:_TAG_BYTES]


def seal(key: bytes, purpose: bytes, payload: Any) -> str:
    """Lowercase hex of ``01 ‖ nonce ‖ ciphertext ‖ tag`` over the payload's JSON."""
    plain = json.dumps(payload, separators=(",", ":")).encode()
    nonce = secrets.token_bytes(_NONCE_BYTES)
    cipher = bytes(
        a ^ b for a, b in zip(plain, _keystream(key, purpose, nonce, len(plain)), strict=True)
    )
    sealed = _VERSION + nonce + cipher
    return (sealed + _tag(key, purpose, sealed)).hex()


def unseal(key: bytes, purpose: bytes, token: str) -> Any:
    """The payload of a token this key sealed for this purpose; ``ValueError`` otherwise."""
    raw = bytes.fromhex(token)
    if len(raw) < 1 + _NONCE_BYTES + _TAG_BYTES or raw[:1] != _VERSION:
        raise ValueError("not a cursor")
    sealed, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(key, purpose, sealed)):
        raise ValueError("not this deployment's cursor")
    nonce, cipher = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    plain = bytes(
        a ^ b for a, b in zip(cipher, _keystream(key, purpose, nonce, len(cipher)), strict=True)
    )
    return json.loads(plain)


def encode_state(key: bytes, state: SyncState) -> str:
    """The token a data-sync page hands out."""
    return seal(key, SYNC_PURPOSE, state.to_json())


def decode_state(key: bytes, token: str) -> SyncState:
    """The state of a token, or 400 ``InvalidDataSyncCursor``."""
    try:
        return SyncState.from_json(unseal(key, SYNC_PURPOSE, token))
    except (ValueError, TypeError):
        raise ConvexError(
            400, "InvalidDataSyncCursor", "Could not parse the data sync cursor"
        ) from None


def client_name(header: str | None) -> str:
    """The client name of a ``Convex-Client`` header: the text before its semver version."""
    if not header:
        return ""
    parts = header.split("-")
    for n in range(1, len(parts)):
        if _SEMVER.fullmatch("-".join(parts[n:])):
            return "-".join(parts[:n])
    return parts[0]


def new_sync_id(client_header: str | None) -> str:
    """``<prefix><uuid v4>``: ``fivetran-``/``airbyte-`` for those connectors, else none."""
    return _SYNC_ID_PREFIXES.get(client_name(client_header), "") + str(uuid.uuid4())
