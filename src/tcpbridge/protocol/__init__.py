"""The protocol core, sans I/O: framing, messages, data classes, dtypes, limits, errors, one codec
per dialect (:mod:`.codecs`), the incremental decoder and the encoder, and the server session
(:mod:`.session`).  Bytes and intents in; messages, bytes, events and deadlines out.  Nothing here
opens a socket or starts a thread."""
