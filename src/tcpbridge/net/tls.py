"""TLS for the bridge (stdlib ``ssl``): the contexts of a listening side and of a connecting side,
TLS 1.2 or later only, and the words for what went wrong in a handshake.

Who is the TLS server follows who opens the socket, not the protocol roles: the TCPServer plugin in
*listen* mode, or an instrument started with ``--listen``, holds the server certificate; the other
side verifies it against the lab CA, and shows its own certificate when the listener requires one
(mutual TLS).  ``tcpbridge cert`` makes such a lab PKI.
"""
from __future__ import annotations

import selectors
import ssl
from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


def server_context(cert: PathLike, key: PathLike, client_ca: Optional[PathLike] = None) -> ssl.SSLContext:
    """The context of a listening side: its certificate chain and key (PEM); with ``client_ca``,
    clients must show a certificate signed by that CA (mutual TLS).

    Raises:
        OSError / ssl.SSLError: a file is missing, unreadable, or not a matching certificate and key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(str(client_ca))
    return context


def client_context(ca: Optional[PathLike] = None, cert: Optional[PathLike] = None,
                   key: Optional[PathLike] = None) -> ssl.SSLContext:
    """The context of a connecting side: the listener's certificate is verified against ``ca`` (PEM;
    None: the system's CAs), host name included; ``cert`` / ``key``: our certificate, for a
    listener that requires one.

    Raises:
        OSError / ssl.SSLError: a file is missing, unreadable, or not a matching certificate and key.
    """
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def handshake_step(sock: ssl.SSLSocket) -> int:
    """One step of a non-blocking TLS handshake: 0 once it is done, else the ``selectors`` event it
    waits for (``EVENT_READ`` / ``EVENT_WRITE``).

    Raises:
        OSError: the handshake failed (``ssl.SSLError`` included; :func:`handshake_problem` says why).
    """
    try:
        sock.do_handshake()
    except ssl.SSLWantReadError:
        return selectors.EVENT_READ
    except ssl.SSLWantWriteError:
        return selectors.EVENT_WRITE
    return 0


def handshake_problem(error: BaseException) -> str:
    """What a failed TLS handshake means, in the words a user acts on."""
    reason = getattr(error, 'reason', None) or ''
    text = str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = getattr(error, 'verify_message', '') or text
        return f'certificate refused: {detail}'
    if reason in ('HTTP_REQUEST', 'WRONG_VERSION_NUMBER', 'UNKNOWN_PROTOCOL', 'RECORD_LAYER_FAILURE') or \
            'wrong version number' in text or 'record layer failure' in text:
        return 'not TLS: a plain TCP client on a TLS port, or a TLS client on a plain port'
    if reason in ('PEER_DID_NOT_RETURN_A_CERTIFICATE', 'TLSV13_ALERT_CERTIFICATE_REQUIRED'):
        return 'no client certificate (this port requires one signed by its CA)'
    if reason in ('TLSV1_ALERT_UNKNOWN_CA', 'SSLV3_ALERT_BAD_CERTIFICATE', 'CERTIFICATE_VERIFY_FAILED'):
        return f'the other side refused our certificate ({reason})'
    if reason in ('SSLV3_ALERT_CERTIFICATE_EXPIRED', 'CERTIFICATE_EXPIRED'):
        return 'certificate expired'
    if reason == 'UNSUPPORTED_PROTOCOL' or 'unsupported protocol' in text:
        return 'TLS version older than 1.2 refused'
    return f'TLS handshake failed: {reason or text}'


def endpoint_context(listen: bool, ca: Optional[PathLike] = None, cert: Optional[PathLike] = None,
                     key: Optional[PathLike] = None) -> Optional[ssl.SSLContext]:
    """The context of an instrument program's ``--tls-ca`` / ``--tls-cert`` / ``--tls-key``: None
    when none is given; when it listens, :func:`server_context` (``ca`` then verifies the commanders'
    certificates); when it connects, :func:`client_context`.

    Raises:
        ValueError: listening with TLS options but no certificate.
        OSError / ssl.SSLError: a file is missing or not a certificate / key.
    """
    if not (ca or cert or key):
        return None
    if listen:
        if not cert:
            raise ValueError('listening with TLS needs --tls-cert (and --tls-key): the server certificate')
        return server_context(cert, key or cert, ca)
    return client_context(ca, cert, key)
