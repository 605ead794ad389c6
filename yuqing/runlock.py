"""One yuqing scheduler at a time: the run lock, the pid file and the daemon's state file.

A daemon and `run-once` take the same lock, so a second daemon or a cron run overlapping a slow one
refuses to start (`LockedError`, exit 4) instead of crawling and sending twice:
- SQLite: `fcntl.flock` on `<database file>.lock`, beside the database every process shares;
- PostgreSQL: `pg_try_advisory_lock` on a connection held for the process lifetime, so that nodes
  sharing one database elect a single scheduler and a standby takes over when it dies.
The kernel (or the PostgreSQL server) drops the lock when the holder dies, even by SIGKILL, so a
stale lock never needs cleaning up. The pid file tells `yuqing reload` whom to signal; the state file
is how the daemon tells `reload` and `status` what it is running.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from .config import Settings
from .errors import LockedError
from .storage import Database, utcnow

# A fixed 63-bit key for pg_try_advisory_lock, derived from a name so it is stable and documented.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"yuqing-scheduler").digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def sqlite_file(settings: Settings) -> Path | None:
    url = settings.database_url()
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url[len("sqlite:///") :])


def run_dir(settings: Settings) -> Path:
    """Where the pid and state files live: `daemon.run_dir`, else beside a SQLite file, else ./var."""
    if settings.daemon.run_dir:
        return settings.resolve(settings.daemon.run_dir)
    db_file = sqlite_file(settings)
    return db_file.parent if db_file else settings.resolve("var")


def _stem(settings: Settings) -> Path:
    db_file = sqlite_file(settings)
    name = db_file.name if db_file else "yuqing"
    return run_dir(settings) / name


def pid_path(settings: Settings) -> Path:
    return _stem(settings).with_name(_stem(settings).name + ".pid")


def state_path(settings: Settings) -> Path:
    return _stem(settings).with_name(_stem(settings).name + ".state.json")


def lock_path(settings: Settings) -> Path | None:
    db_file = sqlite_file(settings)
    return db_file.with_name(db_file.name + ".lock") if db_file else None


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its pid file says."""

    pid: int | None
    command: str | None
    started_at: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another yuqing process"
        return f"yuqing {self.command or 'process'} (pid {self.pid}, since {self.started_at})"


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically (write, then rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_holder(settings: Settings) -> Holder:
    data = read_json(pid_path(settings)) or {}
    pid = data.get("pid")
    return Holder(pid if isinstance(pid, int) else None, data.get("command"), data.get("started_at"))


class RunLock:
    """The scheduler lock for one settings file's database; `acquire` raises LockedError when taken."""

    def __init__(self, settings: Settings, db: Database, command: str):
        self.settings = settings
        self.db = db
        self.command = command
        self._fd: int | None = None
        self._conn: Any = None

    def acquire(self) -> RunLock:
        if self.db.dialect == "postgresql":
            self._acquire_pg()
        else:
            self._acquire_file()
        write_json(
            pid_path(self.settings),
            {"pid": os.getpid(), "command": self.command, "started_at": utcnow().isoformat()},
        )
        return self

    def _refuse(self) -> LockedError:
        holder = read_holder(self.settings)
        where = lock_path(self.settings) or "the PostgreSQL advisory lock"
        return LockedError(
            f"{holder.describe()} already holds the scheduler lock ({where}); "
            f"only one daemon or run-once may run at a time: stop it first, or let it finish"
        )

    def _acquire_file(self) -> None:
        path = lock_path(self.settings)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # non-inheritable: crawl children never hold it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._refuse() from None
        self._fd = fd

    def _acquire_pg(self) -> None:
        # A connection of its own, outside the pool's reuse, held for the process lifetime: the lock
        # is the session's, and ends with it.
        conn = self.db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            raise self._refuse()
        self._conn = conn

    def alive(self) -> bool:
        """False when the PostgreSQL session holding the lock has gone (another node may now hold it)."""
        if self._conn is None:
            return self._fd is not None
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except Exception:
            return False

    def release(self) -> None:
        try:
            if read_holder(self.settings).pid == os.getpid():
                pid_path(self.settings).unlink(missing_ok=True)
        except OSError:
            pass
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
                self._conn.close()
            except Exception:
                pass  # the session is gone, and the lock with it
            self._conn = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(settings: Settings, db: Database) -> bool:
    """Whether some process holds the scheduler lock right now (without keeping it)."""
    probe = RunLock(settings, db, "probe")
    try:
        if db.dialect == "postgresql":
            probe._acquire_pg()
        else:
            probe._acquire_file()
    except LockedError:
        return True
    # Release without touching the pid file, which belongs to the holder, if any.
    if probe._fd is not None:
        fcntl.flock(probe._fd, fcntl.LOCK_UN)
        os.close(probe._fd)
    if probe._conn is not None:
        probe._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        probe._conn.commit()
        probe._conn.close()
    return False
