"""The hex examples of docs/protocol.rst §5 (and the hello of §2.1), checked there against the bytes the
real PyMoDAQ 3.6.13 / 4.4.11 code produced.  Timestamps are fixed to 1700000000.0."""
from __future__ import annotations

TS = 1700000000.0


def h(text: str) -> bytes:
    """Bytes from a hex dump: '00 00 00 07 47 52' -> b'\\x00\\x00\\x00\\x07GR'."""
    return bytes.fromhex(text.replace('\n', ' '))


GRABBER_HELLO = h('00 00 00 07 47 52 41 42 42 45 52')

DONE_LEGACY = h('''00 00 00 04 44 6f 6e 65 00 00 00 01 00 00 00 05 61 72 72 61 79 00 00 00 03 3c 66 38
00 00 00 10 00 00 00 01 00 00 00 02 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 40''')

DONE_PYMODAQ4 = h('''00 00 00 04 44 6f 6e 65
00 00 00 0c 44 61 74 61 54 6f 45 78 70 6f 72 74
00 00 00 03 3c 66 38 00 00 00 08 00 00 00 40 fc 54 d9 41
00 00 00 05 6d 79 64 74 65
00 00 00 01
00 00 00 03 64 77 61
00 00 00 07 44 61 74 61 52 61 77
00 00 00 03 3c 66 38 00 00 00 08 00 00 00 40 fc 54 d9 41
00 00 00 06 6d 79 64 61 74 61
00 00 00 00
00 00 00 03 72 61 77
00 00 00 06 44 61 74 61 31 44
00 00 00 07 75 6e 69 66 6f 72 6d
00 00 00 01 00 00 00 05 61 72 72 61 79
00 00 00 03 3c 66 38 00 00 00 10 00 00 00 01 00 00 00 02
00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 40
00 00 00 01 00 00 00 06 73 74 72 69 6e 67 00 00 00 04 43 48 30 30
00 00 00 05 6d 79 64 74 65
00 00 00 00
00 00 00 00
00 00 00 00
00 00 00 00''')

MOVE_ABS_LEGACY = h('''00 00 00 08 6d 6f 76 65 5f 61 62 73
00 00 00 03 3c 66 38 00 00 00 08
00 00 00 00 00 00 f8 3f''')

MOVE_ABS_LEGACY_INT = h('''00 00 00 08 6d 6f 76 65 5f 61 62 73
00 00 00 03 3c 69 38 00 00 00 08 02 00 00 00 00 00 00 00''')

DATA_ACTUATOR_1_5 = h('''00 00 00 0c 44 61 74 61 41 63 74 75 61 74 6f 72
00 00 00 03 3c 66 38 00 00 00 08 00 00 00 40 fc 54 d9 41
00 00 00 08 61 63 74 75 61 74 6f 72
00 00 00 00
00 00 00 03 72 61 77
00 00 00 06 44 61 74 61 30 44
00 00 00 07 75 6e 69 66 6f 72 6d
00 00 00 01 00 00 00 05 61 72 72 61 79
00 00 00 03 3c 66 38 00 00 00 08 00 00 00 01 00 00 00 01
00 00 00 00 00 00 f8 3f
00 00 00 01 00 00 00 06 73 74 72 69 6e 67 00 00 00 04 43 48 30 30
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00''')

MOVE_ABS_PYMODAQ4 = h('00 00 00 08 6d 6f 76 65 5f 61 62 73') + DATA_ACTUATOR_1_5

POSITION_IS_LEGACY = h('''00 00 00 0b 70 6f 73 69 74 69 6f 6e 5f 69 73
00 00 00 03 3c 66 38 00 00 00 08 00 00 00 00 00 00 f8 3f''')

POSITION_IS_PYMODAQ4 = h('00 00 00 0b 70 6f 73 69 74 69 6f 6e 5f 69 73') + DATA_ACTUATOR_1_5

SET_INFO_XML = ('<exposure type="float" title="Exposure" visible="1" removable="0" readonly="0" '
                'show_pb="0">20.0</exposure>')
SET_INFO = (h('''00 00 00 08 73 65 74 5f 69 6e 66 6f
00 00 00 01 00 00 00 06 73 74 72 69 6e 67 00 00 00 08 65 78 70 6f 73 75 72 65
00 00 00 6a''') + SET_INFO_XML.encode())

ACTUATOR_INFOS_XML = ('<move_settings type="group" title="move_settings" visible="1" removable="0" '
                      'readonly="0"><units type="str" title="Units:" visible="1" removable="0" '
                      'readonly="0">mm</units></move_settings>')
ACTUATOR_HELLO = (h('00 00 00 08 41 43 54 55 41 54 4f 52 00 00 00 05 49 6e 66 6f 73 00 00 00 bb')
                  + ACTUATOR_INFOS_XML.encode())
