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
from collections import deque
from typing import Deque, Dict, Optional

#: random bytes in a nonce
NONCE_BYTES = 32
#: failed authentications are counted per host over this window (s)
AUTH_WINDOW_S = 60.0


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


class FailedAuthentications:
    """Failed authentications per client host over the last :data:`AUTH_WINDOW_S` seconds: at
    ``limit`` of them a host is refused at its hello until they age out (against guessing the
    secret).  Times are ``time.monotonic()`` seconds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: Dict[str, Deque[float]] = {}

    def refusal(self, host: str, now: float) -> Optional[str]:
        """Why ``host`` is refused at ``now`` (too many recent failures), or None."""
        failures = len(self._recent(host, now))
        if failures < self.limit:
            return None
        return f'{failures} failed authentications from {host} within {AUTH_WINDOW_S:g} s: refused until they age out'

    def record(self, host: str, now: float) -> int:
        """Count a failure of ``host`` at ``now``; returns its recent failures."""
        failures = self._recent(host, now)
        failures.append(now)
        return len(failures)

    def counts(self, now: float) -> Dict[str, int]:
        """Recent failures per host (hosts with none are forgotten)."""
        counts = {host: len(self._recent(host, now)) for host in list(self._times)}
        for host in [h for h, n in counts.items() if not n]:
            del self._times[host], counts[host]
        return counts

    def _recent(self, host: str, now: float) -> Deque[float]:
        failures = self._times.setdefault(host, deque())
        while failures and failures[0] < now - AUTH_WINDOW_S:
            failures.popleft()
        return failures
