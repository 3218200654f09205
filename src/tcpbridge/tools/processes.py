"""Demo clients run as child processes (used by ``tcpbridge scan`` and the tests)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Optional, Sequence


class ClientProcess:
    """``python -m tcpbridge <args>`` in its own process, its output to ``log_file`` (or piped).

    Use as a context manager, or call :meth:`stop`: SIGTERM (``terminate``), then a kill if it has
    not exited within the timeout.
    """

    def __init__(self, args: Sequence[str], log_file: Optional[Path] = None) -> None:
        self.args = list(args)
        self.log_file = log_file
        self._log: Optional[IO[str]] = open(log_file, 'w') if log_file else None  # noqa: SIM115 (closed by stop)
        output = self._log if self._log else subprocess.PIPE
        self.process = subprocess.Popen([sys.executable, '-m', 'tcpbridge', *self.args],
                                        stdout=output, stderr=output, text=True)

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the process; returns its exit code.

        Raises:
            TimeoutError: it had to be killed (it ignored SIGTERM for ``timeout`` s).
        """
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output = ''.join(text or '' for text in self.process.communicate())
            raise TimeoutError(f'tcpbridge {" ".join(self.args)} ignored SIGTERM for {timeout} s: killed; '
                               f'its last output:\n{output[-2000:]}') from None
        finally:
            if self._log:
                self._log.close()
        return self.process.returncode

    def describe(self, lines: int = 15) -> str:
        """Whether the process runs or with which code it exited, and the last ``lines`` lines of its
        log file (when it has one): what a user needs when it did not do its job."""
        code = self.process.poll()
        state = f'running (pid {self.process.pid})' if code is None else f'exited with code {code}'
        text = f'tcpbridge {" ".join(self.args)}: {state}'
        if self.log_file is None:
            return text
        try:
            tail = self.log_file.read_text(errors='replace').splitlines()[-lines:]
        except OSError as error:
            return f'{text}; its log {self.log_file} cannot be read ({error.strerror})'
        return '\n'.join([f'{text}; the end of its log {self.log_file}:', *(f'  | {line}' for line in tail)])

    def __enter__(self) -> ClientProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
