"""``python -m tcpbridge``: same as the ``tcpbridge`` command."""
import sys

from .cli import main

sys.exit(main())
