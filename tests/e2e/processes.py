"""Child processes that cannot outlive the test run: own process group, parent-death signal."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_STOP_GRACE_S = 10.0


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls into it


def _die_with_parent() -> None:  # runs in the child between fork and exec (Linux)
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Process:
    """One started binary, its stdout+stderr in ``log``."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def spawn(cls, name: str, argv: list[str], log: Path) -> Process:
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
                preexec_fn=_die_with_parent,
            )
        return cls(name, popen, log)

    def exit_reason(self) -> str | None:
        """None while it runs; else what it exited with and the end of its log."""
        code = self.popen.poll()
        if code is None:
            return None
        return f"{self.name} exited with code {code}\n{self.log_tail()}"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after a grace period, and reap the child."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(_STOP_GRACE_S)
        self._signal_group(signal.SIGKILL)  # stragglers in the group, if any
        self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log.open(errors="replace") as text:
                tail = "".join(deque(text, maxlen=lines))
        except OSError as err:
            tail = f"(no log: {err})\n"
        return f"----- {self.name} ({self.log}) last {lines} lines -----\n{tail}"

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)
