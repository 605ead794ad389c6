"""One sender at a time per outbox.

A delivery left in state 'sending' is a message a process may have handed over before it died: it is
sent again (same Message-ID). That is only safe when no other process is sending it right now, so
`send_pending` holds this lock: a PostgreSQL advisory lock (released by the server when the
connection dies), or an flock on a file beside the SQLite database (released by the kernel when the
process dies, SIGKILL included).
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text

from yuqing.storage import Database

_ADVISORY_KEY = 0x79_71_6F_62  # "yqob"
_local = threading.Lock()


class SenderLock:
    def __init__(self, db: Database):
        self.db = db
        self._conn: Any = None
        self._file: IO[str] | None = None
        self._thread = False

    def acquire(self) -> bool:
        if self.db.dialect == "postgresql":
            self._conn = self.db.engine.connect()
            got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}).scalar())
            self._conn.commit()
            if not got:
                self._conn.close()
                self._conn = None
            return got
        path = self.db.url.split("///", 1)[-1]
        if not path or path == ":memory:" or not self.db.url.startswith("sqlite"):
            self._thread = _local.acquire(blocking=False)
            return self._thread
        self._file = open(Path(path).with_name(Path(path).name + ".outbox.lock"), "a+", encoding="utf-8")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._thread:
            _local.release()
            self._thread = False
