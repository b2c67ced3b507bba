"""One writer per folder: the lock file of every command that writes a run or results folder.

`FolderLock(folder, filename, command, what)` holds `<folder>/<filename>` = {"pid", "host", "started"}
while a command writes into `folder`; a second command into the same folder is refused with a message
that names the process holding it and how to go on. `stargan ablation` (`ablation.lock`) and
`stargan course-runs` (`course-runs.lock`) use it.

Layer: helpers.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from stargan_lib.errors import ConfigError
from stargan_lib.utils import read_json_object


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (it may belong to another user)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:            # it exists, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


class FolderLock:
    """`<folder>/<filename>` while `command` writes into `folder`: {"pid", "host", "started"}.

    `acquire` creates the file atomically (a complete file is linked into place, so a reader never
    sees half of it) and refuses, naming the other run and what to do, while another run holds it.
    A lock left by a process of this machine that no longer exists (a killed run) is stale: it is
    removed, with a log line, and taken. A lock of another machine (a shared folder) cannot be
    checked: it is refused and its message says how to remove it. `release` removes the file only
    if it still holds this run's record. Use as a context manager.

    `what`: what two runs would both write ("the configurations"); `progress`: where the running
    command's progress can be followed (named in the message).
    """

    def __init__(self, folder: str | Path, filename: str, command: str, what: str,
                 progress: str | Path | None = None, log: Callable[[str], None] | None = print):
        self.path = Path(folder) / filename
        self.command = command
        self.what = what
        self.progress = progress
        self.log = log
        self.record: dict[str, Any] | None = None

    def _refuse(self, other: Mapping[str, Any] | None, why: str) -> ConfigError:
        if other is None:
            return ConfigError(f"the folder {self.path.parent} is locked by {self.path}, which cannot be read. If no "
                               f"`{self.command}` is running into this folder, delete the lock file ({self.path}) "
                               "and run again")
        follow = f" (its progress is in {self.progress})" if self.progress else ""
        return ConfigError(
            f"another `{self.command}` is writing into {self.path.parent}: process {other.get('pid')} on "
            f"{other.get('host')}, started {other.get('started')} ({why}). Two runs would train {self.what}. "
            f"Wait for it to finish{follow}, or use another folder; if that process is gone, delete "
            f"{self.path} and run again")

    def acquire(self) -> "FolderLock":
        """Take the lock, or raise ConfigError naming the run that holds it (a stale one is removed)."""
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{record['pid']}.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)            # fails if the lock exists: atomic, and never half-written
                except FileExistsError:
                    other = read_json_object(self.path)
                    if other is None or not isinstance(other.get("pid"), int):
                        raise self._refuse(None, "unreadable") from None
                    if other.get("host") != record["host"]:
                        raise self._refuse(other, "another machine: its process cannot be checked from here") from None
                    if pid_alive(other["pid"]):
                        raise self._refuse(other, "it is still running") from None
                    if self.log is not None:
                        self.log(f"removing the stale lock {self.path}: process {other['pid']} (started "
                                 f"{other.get('started')}) no longer exists")
                    self.path.unlink(missing_ok=True)
                    continue
                self.record = record
                return self
            raise self._refuse(read_json_object(self.path), "it took the folder while the stale lock was removed")
        finally:
            tmp.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock file if this run holds it."""
        if self.record is not None and read_json_object(self.path) == self.record:
            self.path.unlink(missing_ok=True)
        self.record = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


__all__ = ["FolderLock", "pid_alive"]
