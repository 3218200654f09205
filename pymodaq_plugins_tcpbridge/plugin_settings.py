"""The settings of a TCPServer plugin: what a scientist looks at first, then the groups set once.

Names are PyMoDAQ 4's where they existed (``socket_ip``, ``port_id``, ``settings_client``, ``infos``,
``conn_clients``), at the top level, so that old settings load.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import List

from tcpbridge import DEAD_LINK_S

from . import config

#: back-pressure (tcpbridge.net.backlog): at most this many data sets on their way through PyMoDAQ (the
#: display's latency)
BACKLOG_MESSAGES = 100
#: seconds a move or grab whose client was lost waits for a client (the *Reconnect wait* setting's default)
RECONNECT_WAIT_S = 60.0
#: values of the *Connection* setting: who opens the socket (the protocol is the same)
LISTEN, CONNECT = 'listen', 'connect to instrument'
#: what PyMoDAQ 5.0/5.1 modules (pymodaq5 dialect) cannot do, from their own code (docs/guide/compatibility.rst)
PYMODAQ5_LIMITS = ('PyMoDAQ 5.1.x modules cannot execute moves nor apply settings sent over TCP (a bug of '
                   "theirs), 5.0.x can; 'tcpbridge module' on the instrument PC hosts any PyMoDAQ 5 plugin "
                   'without these limits')
#: the collapsed settings groups: TLS, shared secret, allowed clients, observers / timeouts and sizes
SECURITY, LIMITS = 'security', 'limits'


def tcp_parameters() -> List[dict]:
    """The settings of a TCPServer plugin a scientist looks at, first in its tree: summary, LED, status,
    the connection, the client and its settings (issue 28); :func:`tcp_set_once_groups` come last.  The
    PyMoDAQ 4 names (``socket_ip``, ``port_id``, ``settings_client``, ``infos``, ``conn_clients``) are
    kept, at the top level, so that old settings load."""
    return [
        {'title': 'Summary:', 'name': 'summary', 'type': 'str', 'value': 'not listening', 'readonly': True,
         'tip': 'the client in control and since when, or what the plugin waits for (full text here)'},
        # not 'readonly': PyMoDAQ draws a disabled LED grey whatever its value (it is never clickable)
        {'title': 'Client connected:', 'name': 'connected', 'type': 'led', 'value': False,
         'tip': 'on while a client is in control of this plugin'},
        {'title': 'Status:', 'name': 'status', 'type': 'str', 'value': '', 'readonly': True,
         'tip': 'the last event of the bridge (PyMoDAQ shows it in the status bar where it has one)'},
        {'title': 'Connection:', 'name': 'connection', 'type': 'list', 'value': LISTEN,
         'limits': [LISTEN, CONNECT],
         'tip': f'{LISTEN}: wait for the instrument program to connect here; {CONNECT}: dial an '
                'instrument that listens (tcpbridge module ... --listen), again after every loss'},
        {'title': 'IP:', 'name': 'socket_ip', 'type': 'str',
         'value': config('tcpbridge', 'network', 'tcp-server', 'ip'),
         'tip': f'{LISTEN}: address to listen on: 127.0.0.1 = this PC only; the address of the network '
                'card facing the instrument PC (or 0.0.0.0) to accept remote clients. '
                f'{CONNECT}: the address of the instrument PC'},
        {'title': 'Port:', 'name': 'port_id', 'type': 'int',
         'value': config('tcpbridge', 'network', 'tcp-server', 'port'), 'min': 0, 'max': 65535,
         'tip': f'{LISTEN}: port to listen on (0: any free port, shown here once chosen); {CONNECT}: the '
                "instrument's port"},
        {'title': 'Dialect:', 'name': 'dialect', 'type': 'list', 'value': config('tcpbridge', 'bridge', 'dialect'),
         'limits': ['auto', 'legacy', 'pymodaq4'],
         'tip': 'auto: learned from the client\'s first data or position (protocol reference, §6)'},
        {'title': 'Connected clients:', 'name': 'conn_clients', 'type': 'table', 'value': OrderedDict(),
         'header': ['Client', 'State']},
        {'title': 'Settings Client:', 'name': 'settings_client', 'type': 'group', 'children': []},
        {'title': 'Infos Client:', 'name': 'infos', 'type': 'group', 'children': []},
    ]


def tcp_set_once_groups() -> List[dict]:
    """The settings whoever runs the lab network sets once, in two groups collapsed by default, last
    in the plugin's tree: :data:`SECURITY` (TLS, shared secret, allowed clients, observers) and
    :data:`LIMITS` (timeouts, reconnect wait, sizes)."""
    return [
        {'title': 'Security:', 'name': SECURITY, 'type': 'group', 'expanded': False,
         'tip': 'TLS, shared secret, allowed clients and observers: set once by whoever runs the lab network',
         'children': [
            {'title': 'TLS certificate:', 'name': 'tls_cert', 'type': 'str', 'value': '',
             'tip': f'{LISTEN}: PEM file of this server\'s certificate (tcpbridge cert makes one; empty: plain TCP); '
                    f'{CONNECT}: this plugin\'s client certificate, for an instrument that requires one'},
            {'title': 'TLS key:', 'name': 'tls_key', 'type': 'str', 'value': '',
             'tip': 'PEM file of the private key of the TLS certificate'},
            {'title': 'TLS client CA:', 'name': 'tls_client_ca', 'type': 'str', 'value': '',
             'tip': f'{LISTEN}: PEM file of the CA whose certificates clients must show (mutual TLS); empty: none '
                    'required'},
            {'title': 'TLS CA of the instrument:', 'name': 'tls_ca', 'type': 'str', 'value': '',
             'tip': f'{CONNECT}: PEM file of the CA that signed the instrument\'s certificate (tcpbridge cert: '
                    'ca.pem); set, the plugin speaks TLS and checks the instrument\'s certificate and host name; '
                    'empty: plain TCP'},
            {'title': 'Shared secret:', 'name': 'auth_secret', 'type': 'str', 'value': '',
             'tip': 'clients must prove they know it (challenge-response, the secret never crosses the wire; '
                    'tcpbridge clients: --secret); empty: no authentication. It does not encrypt: use TLS for that'},
            {'title': 'Allowed clients:', 'name': 'allowed_clients', 'type': 'str',
             'value': config('tcpbridge', 'bridge', 'allowed_clients'),
             'tip': 'addresses or networks allowed to connect, comma separated (e.g. 192.168.1.0/24, '
                    '10.0.0.5); empty: any'},
            {'title': 'Max observers:', 'name': 'max_observers', 'type': 'int', 'value': 0, 'min': 0, 'max': 64,
             'tip': 'read-only clients (tcpbridge.ObserverClient) that receive a copy of every data set and position; '
                    '0: none allowed'},
            {'title': 'Observer queue (MiB):', 'name': 'observer_queue_mib', 'type': 'int', 'value': 32, 'min': 1,
             'max': 4096, 'tip': 'an observer with more than this waiting to be sent is dropped (it never slows '
                                 'the client in control)'},
         ]},
        {'title': 'Timeouts and limits:', 'name': LIMITS, 'type': 'group', 'expanded': False,
         'tip': 'how long the plugin waits for a client and how much it takes from one',
         'children': [
            {'title': 'Reply timeout (s):', 'name': 'reply_timeout', 'type': 'float',
             'value': config('tcpbridge', 'bridge', 'reply_timeout_s'), 'min': 0.01},
            {'title': 'Reconnect wait (s):', 'name': 'reconnect_wait', 'type': 'float', 'value': RECONNECT_WAIT_S,
             'min': 0.0, 'max': 86400.0,
             'tip': 'a move or grab under way when its client is lost waits this long for a client to connect, '
                    'then is sent to it again (a move as move_abs to its target); past it, the move or grab fails. '
                    "0: fail at once. PyMoDAQ's own scan timeouts must be longer for a scan to wait"},
            {'title': 'Dead link after (s):', 'name': 'dead_link_s', 'type': 'float', 'value': DEAD_LINK_S, 'min': 2.0,
             'max': 3600.0, 'tip': 'a client that answers neither TCP keepalive probes nor data for this long (cable, '
                                   'power cut, firewall dropping packets) is declared gone: the LED turns red and the '
                                   'status says why (keepalive, and TCP_USER_TIMEOUT on Linux)'},
            {'title': 'Max message (MiB):', 'name': 'max_message_mib', 'type': 'int',
             'value': config('tcpbridge', 'bridge', 'max_message_mib'), 'min': 1, 'max': 4096},
            {'title': 'Max backlog (MiB):', 'name': 'max_backlog_mib', 'type': 'int', 'value': 64, 'min': 1,
             'max': 65536, 'tip': 'data received and not yet taken by PyMoDAQ (its display, savers); beyond this, '
                                  f'or {BACKLOG_MESSAGES} data sets, the client is not read until PyMoDAQ catches up '
                                  '(TCP then slows the sender: nothing is dropped, memory stays bounded)'},
         ]},
    ]


#: settings that restart the server when changed
SERVER_SETTINGS = ('connection', 'tls_cert', 'tls_key', 'tls_client_ca', 'tls_ca', 'auth_secret', 'max_observers',
                   'observer_queue_mib', 'socket_ip', 'port_id', 'allowed_clients', 'dialect', 'max_message_mib',
                   'max_backlog_mib', 'dead_link_s')
