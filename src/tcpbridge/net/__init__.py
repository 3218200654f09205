"""The thin I/O layer: sockets (:mod:`.transport`), the server engine that drives a
:class:`~tcpbridge.protocol.server_session.ServerSession` (:mod:`.server`), and the client library
(:mod:`.client`)."""
