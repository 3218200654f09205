"""PyMoDAQ-side applications of the ``tcpbridge`` command, found by it through the entry-point group
``tcpbridge.commands`` (the client library never imports this package).

Each command module defines ``COMMAND``, a :class:`tcpbridge.cli.Command`.  Importing them loads
no PyMoDAQ: they import it only when they run, after :mod:`.pymodaq_home` redirected its folders.
"""
