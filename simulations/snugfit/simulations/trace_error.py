"""The error every trace loader raises: it names the file and the line."""

from __future__ import annotations

from pathlib import Path


class TraceError(ValueError):
    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem
