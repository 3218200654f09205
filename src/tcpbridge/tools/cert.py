"""``tcpbridge cert``: a small lab PKI for TLS between the main PC and the instrument PCs.

One CA (``ca.pem`` / ``ca.key``), one server certificate for the host names and IP addresses the
clients use to reach the listening side (``server.pem`` / ``server.key``), and one certificate per
client name (``NAME.pem`` / ``NAME.key``), made with ``cryptography`` (the ``[tls]`` extra).  Keys
are ECDSA P-256, written with permissions 0600; certificates are valid for ``days`` days.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Sequence, Tuple

#: how to get the library that makes the certificates
TLS_INSTALL = ('python -m pip install ".[tls]" in a checkout of pymodaq_plugins_tcpbridge '
               '(or "WHEEL.whl[tls]"; the main PC\'s [pymodaq] install has it)')


@dataclass
class Issued:
    """The files of one run of :func:`make_pki`."""

    ca: Path
    server_cert: Path
    server_key: Path
    clients: List[Tuple[Path, Path]]


def make_pki(out: Path, hosts: Sequence[str], clients: Sequence[str] = (), days: int = 825,
             not_before: Any = None) -> Issued:
    """Write a CA, a server certificate for ``hosts`` (names or IPs) and one certificate per client.

    Args:
        out: folder (created); existing files of the same names are replaced.
        hosts: the names and addresses the server is reached by (subject alternative names).
        clients: client names (the certificates' common names).
        days: validity from ``not_before`` (default: now).

    Raises:
        ImportError: ``cryptography`` is not installed (see :data:`TLS_INSTALL`).
        ValueError: no host, or a client named like the server or the CA.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not hosts:
        raise ValueError('give at least one --host (the name or address clients connect to)')
    if {'ca', 'server'} & set(clients):
        raise ValueError("client names 'ca' and 'server' are taken by the CA and server files")
    out.mkdir(parents=True, exist_ok=True)
    start = not_before or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(days=days)

    def name(common: str) -> Any:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'tcpbridge lab PKI'),
                          x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write_key(key: Any, path: Path) -> Path:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as file:
            file.write(data)
        os.chmod(path, 0o600)
        return path

    def write_cert(cert: Any, path: Path) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(name('tcpbridge lab CA')).issuer_name(name('tcpbridge lab CA'))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))

    def issue(common: str, usage: Any, alt_names: Sequence[Any] = ()) -> Tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(common)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    alt: List[Any] = []
    for host in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    server_cert, server_key = issue(hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, alt)
    write_key(ca_key, out / 'ca.key')
    issued = Issued(write_cert(ca_cert, out / 'ca.pem'), write_cert(server_cert, out / 'server.pem'),
                    write_key(server_key, out / 'server.key'), [])
    for client in clients:
        cert, key = issue(client, ExtendedKeyUsageOID.CLIENT_AUTH)
        issued.clients.append((write_cert(cert, out / f'{client}.pem'), write_key(key, out / f'{client}.key')))
    return issued


def instructions(issued: Issued) -> str:
    """What to copy where, for the person setting up the PCs."""
    lines = [f'CA:      {issued.ca}   (its key ca.key stays here, offline: it signs new certificates)',
             f'server:  {issued.server_cert} + {issued.server_key}',
             '  -> the listening side (the main PC: plugin settings tls_cert / tls_key, and tls_client_ca = '
             'ca.pem to require client certificates)']
    for cert, key in issued.clients:
        lines.append(f'client:  {cert} + {key}')
        lines.append(f'  -> that instrument PC, with ca.pem: tcpbridge ... --tls-ca ca.pem --tls-cert {cert.name} '
                     f'--tls-key {key.name}')
    lines.append('keys are written 0600: copy them over ssh (scp), never by e-mail')
    return '\n'.join(lines)
