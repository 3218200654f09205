"""PyMoDAQ 5 plugins of the TCP/IP bridge: DAQ_Move_TCPServer and DAQ_0D/1D/2D/NDViewer_TCPServer,
and the PyMoDAQ-side applications of the ``tcpbridge`` command (:mod:`.apps`).

``config`` and ``__version__`` (PyMoDAQ's plugin conventions) are made on first use (PEP 562), so
that importing :mod:`.apps` loads no PyMoDAQ: ``tcpbridge scan`` must point PyMoDAQ's config
folders elsewhere before PyMoDAQ is imported.
"""
from typing import Any


def __getattr__(name: str) -> Any:
    if name == 'config':
        from pymodaq_utils.config import GlobalConfig

        from .utils import Config  # noqa: F401  (importing it registers the plugin config)
        value: Any = GlobalConfig()
    elif name == '__version__':
        from pymodaq_utils.utils import get_version
        value = get_version(__package__)
    else:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    globals()[name] = value
    return value
