"""A peer that is not a TCPServer plugin (another service on the port): the client names it and gives up."""
from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from tcpbridge import GrabberClient


def test_a_peer_that_does_not_speak_the_protocol_is_named_and_counts_as_a_failed_attempt() -> None:
    """An HTTP server where the plugin should be: the client says what it sent and gives up after
    ``max_attempts`` (before: it took the answer for a 1.2 GB command and reconnected for ever)."""
    with socket.create_server(('127.0.0.1', 0)) as server:
        server.settimeout(10)

        def answer_like_http() -> None:
            for _ in range(5):  # bounded: the client gives up after 2
                try:
                    sock, _ = server.accept()
                except OSError:
                    return
                with sock:
                    sock.sendall(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
                    sock.recv(1024)
        thread = threading.Thread(target=answer_like_http, daemon=True)
        thread.start()
        client = GrabberClient('127.0.0.1', server.getsockname()[1], grab=lambda dim: [np.zeros(1)], retry_delay=0.01,
                               max_retry_delay=0.02, max_attempts=2)
        with pytest.raises(ConnectionError) as raised:
            client.run()
    message = str(raised.value)
    assert 'does not speak the protocol (2 attempts)' in message and "read 'HTTP'" in message, message
