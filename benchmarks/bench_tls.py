"""TLS cost on an 8 MiB frame, side by side in one run (interleaved, shuffled repeats): a bare
socket, the bridge's encoder + socket + decoder in plain TCP, the same through TLS 1.3 (the lab PKI
of ``tcpbridge cert``, mutual TLS), and bare TLS (the same bytes with ``sendall`` / ``recv_into``).
The decoder receives a TLS frame straight into its buffer (``recv_into``), as in plain TCP.
"""
from __future__ import annotations

import random
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable, Dict, List

from bench_core import FRAME, CoreFrames, bare, socket_pair
from report import row

from tcpbridge import Dialect, client_context, server_context
from tcpbridge.tools.cert import make_pki

REPEATS = 20


def tls_pair(folder: Path):
    """A connected (client, server) pair of TLS sockets on loopback, mutual TLS."""
    lab = make_pki(folder, ['127.0.0.1'], ['instrument'])
    a, b = socket_pair()
    server = server_context(lab.server_cert, lab.server_key, lab.ca)
    wrapped: Dict[str, socket.socket] = {}
    thread = threading.Thread(target=lambda: wrapped.setdefault('b', server.wrap_socket(b, server_side=True)))
    thread.start()
    cert, key = lab.clients[0]
    tls_a = client_context(lab.ca, cert, key).wrap_socket(a, server_hostname='127.0.0.1')
    thread.join()
    return tls_a, wrapped['b']


def main() -> Dict[str, object]:
    a, b = socket_pair()
    with tempfile.TemporaryDirectory() as folder:
        ta, tb = tls_pair(Path(folder))
    kinds: Dict[str, Callable[[], float]] = {  # one encoder and decoder per connection, as a connection has
        'bare': lambda: bare(a, b), 'bridge': CoreFrames(a, b, Dialect.PYMODAQ4).seconds,
        'bare_tls': lambda: bare(ta, tb), 'bridge_tls': CoreFrames(ta, tb, Dialect.PYMODAQ4).seconds}
    runs: Dict[str, List[float]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for kind in order:
        kinds[kind]()
    ratios: Dict[str, List[float]] = {'tls_vs_bare': [], 'tls_vs_plain_bridge': []}
    for _ in range(REPEATS):
        random.shuffle(order)
        took = {kind: kinds[kind]() for kind in order}
        for kind, seconds in took.items():
            runs[kind].append(seconds)
        ratios['tls_vs_bare'].append(took['bare'] / took['bridge_tls'])
        ratios['tls_vs_plain_bridge'].append(took['bridge'] / took['bridge_tls'])
    for s in (a, b, ta, tb):
        s.close()
    mib = FRAME.nbytes / (1 << 20)
    case = f'8 MiB frame, pymodaq4 dialect, TLS 1.3 (mutual), {REPEATS} repeats'
    return {'rows': [
        row('bare loopback socket', case, 'MiB/s', [mib / t for t in runs['bare']]),
        row('bare TLS socket', case, 'MiB/s', [mib / t for t in runs['bare_tls']]),
        row('tcpbridge core pymodaq4, plain', case, 'MiB/s', [mib / t for t in runs['bridge']]),
        row('tcpbridge core pymodaq4, TLS', case, 'MiB/s', [mib / t for t in runs['bridge_tls']],
            ratios['tls_vs_bare'], 'bare loopback socket'),
        row('tcpbridge core pymodaq4, TLS', case, 'MiB/s', [mib / t for t in runs['bridge_tls']],
            ratios['tls_vs_plain_bridge'], 'tcpbridge core pymodaq4, plain')]}

if __name__ == '__main__':
    import json
    print(json.dumps(main(), indent=2))
