"""Configuration of the TCPServer plugins (``resources/config_template.toml``)."""
from pathlib import Path

from pymodaq_utils.config import BaseConfig, GlobalConfig


@GlobalConfig.register()
class Config(BaseConfig):
    """The plugin config: default listening address and port, reply timeout, message size limit.

    Read it as ``GlobalConfig()('tcpbridge', section, ...)``."""

    config_template_path = Path(__file__).parent.joinpath('resources/config_template.toml')
    config_name = f"config_{__package__.split('pymodaq_plugins_')[1]}"
