"""Authentication by a shared secret, for clients that cannot do TLS (a tcpbridge extension).

Challenge-response (docs/protocol.rst §9.1): after its hello the client sends
``tcpbridge.auth``; the server answers ``tcpbridge.challenge`` + a fresh random nonce; the client
answers ``tcpbridge.response`` + ``HMAC-SHA256(secret, nonce || client_type)``.  The secret never
crosses the wire, a response is good for one nonce only (no replay), and the server compares in
constant time.  It authenticates the client; it does not encrypt (TLS does).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

#: random bytes in a nonce
NONCE_BYTES = 32


def new_nonce() -> str:
    """A fresh nonce, hex (64 characters)."""
    return secrets.token_hex(NONCE_BYTES)


def response(secret: str, nonce: str, client_type: str) -> str:
    """The client's answer to ``nonce``: HMAC-SHA256 of ``nonce + client_type`` keyed by the UTF-8
    ``secret``, hex."""
    return hmac.new(secret.encode(), (nonce + client_type).encode(), hashlib.sha256).hexdigest()


def verify(secret: str, nonce: str, client_type: str, digest: str) -> bool:
    """True if ``digest`` answers ``nonce`` with ``secret`` (constant-time comparison)."""
    return hmac.compare_digest(response(secret, nonce, client_type), digest.strip().lower())
