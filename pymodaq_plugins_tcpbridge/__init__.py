"""PyMoDAQ 5 plugins of the TCP/IP bridge: DAQ_Move_TCPServer and DAQ_0D/1D/2D/NDViewer_TCPServer."""
from pymodaq_utils.config import GlobalConfig
from pymodaq_utils.utils import get_version

from .utils import Config  # noqa: F401  (importing it registers the plugin config)

config = GlobalConfig()
__version__ = get_version(__package__)
