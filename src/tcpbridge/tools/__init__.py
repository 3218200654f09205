"""Tools around the bridge: session transcripts and ``tcpbridge replay`` (:mod:`.transcript`),
and demo clients run as child processes (:mod:`.processes`)."""
