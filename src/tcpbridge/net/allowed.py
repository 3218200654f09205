"""The allow-list of client addresses (the plugins' *Allowed clients* setting, ``--allow``)."""
from __future__ import annotations

import ipaddress
from typing import List, Optional, Sequence, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_allowed(entries: Optional[Sequence[str]]) -> List[Network]:
    """Client addresses or networks (``'192.168.1.0/24'``, ``'10.0.0.5'``, ``'::1'``) as networks.

    Raises:
        ValueError: an entry that is empty (e.g. ``'a,,b'`` split on commas) or not an address or
            network; a list made only of separators is an error, not "any".
    """
    if not entries:
        return []
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            raise ValueError(f'empty entry in the allowed clients {list(entries)!r}')
        networks.append(ipaddress.ip_network(text, strict=False))
    return networks


def refusal(host: str, networks: Sequence[Network]) -> str:
    """Why the client address ``host`` (as ``accept`` gives it: an IPv6 one may carry a ``%scope``,
    an IPv4 client of a dual-stack socket is IPv4-mapped) is refused: it is in none of ``networks``;
    '' if it is allowed (or ``networks`` is empty: any client is)."""
    if not networks:
        return ''
    ip = ipaddress.ip_address(host.split('%', 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in networks):
        return ''
    return f'{host} is not among the allowed clients ({", ".join(str(n) for n in networks)})'
