"""The version of tcpbridge and of its PyMoDAQ plugin package (one number, setup.cfg reads it here)."""
__version__ = '0.2.0'
