"""The public surface: what a client author imports from ``tcpbridge``, the three namespaces beside it,
and the names of 0.2 that moved (still importable, with a warning that says where they went)."""
from __future__ import annotations

import pytest

import tcpbridge
from tcpbridge import commands, server, wire

CLIENT_AUTHOR = {'ACTUATOR', 'GRABBER', 'DEAD_LINK_S', '__version__', 'ActuatorClient', 'BridgeClient',
                 'ConnectionLost', 'Dialect', 'DwaLayout', 'GrabberClient', 'Limits', 'ObserverClient',
                 'RefusedByServer', 'SimulatedDetector', 'SimulatedStage', 'client_context', 'endpoint_context',
                 'server_context', 'wire'}


def test_the_package_exports_what_a_client_author_uses() -> None:
    assert set(tcpbridge.__all__) == CLIENT_AUTHOR
    for name in tcpbridge.__all__:
        assert getattr(tcpbridge, name) is not None
    assert 'BridgeServer' not in tcpbridge.__all__ and 'Command' not in tcpbridge.__all__


@pytest.mark.parametrize('namespace', [wire, server, commands], ids=lambda m: m.__name__)
def test_every_name_of_a_namespace_resolves(namespace) -> None:
    assert namespace.__all__ and len(set(namespace.__all__)) == len(namespace.__all__)
    for name in namespace.__all__:
        assert getattr(namespace, name) is not None, name


def test_the_namespaces_do_not_overlap() -> None:
    assert not set(wire.__all__) & set(server.__all__)
    assert not set(server.__all__) & set(commands.__all__)


@pytest.mark.parametrize('name, home', [('Encoder', wire), ('DataToExport', wire), ('BridgeServer', server),
                                        ('ClientLost', server), ('Command', commands)])
def test_a_moved_name_still_imports_with_a_warning_naming_its_home(name: str, home) -> None:
    with pytest.warns(DeprecationWarning, match=f'import it from {home.__name__}'):
        value = getattr(tcpbridge, name)
    assert value is getattr(home, name)


@pytest.mark.parametrize('old, home, new', [('Role', wire, 'Side'), ('ControllerChanged', server, 'ControlChanged')])
def test_a_renamed_name_still_imports_with_a_warning_naming_the_new_one(old: str, home, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=f'is now {home.__name__}.{new}'):
        value = getattr(tcpbridge, old)
    assert value is getattr(home, new)


def test_an_unknown_name_is_an_attribute_error() -> None:
    name = 'NoSuchThing'
    with pytest.raises(AttributeError, match='no attribute'):
        getattr(tcpbridge, name)
