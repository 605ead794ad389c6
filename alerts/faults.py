"""Named points in the send path where a crash test can stop the process and kill it.

With YUQING_FAULT_PAUSE set to a point's name (e.g. "claimed"), the process that reaches that point
appends the name to the file YUQING_FAULT_FILE and then waits until it is killed; the kill tests
wait for that line and send SIGKILL, so every step of a send can be interrupted at a known place.
Without the variable a checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time

POINTS = ("planning", "planned", "claimed", "sent", "marked")


def checkpoint(name: str) -> None:
    if os.environ.get("YUQING_FAULT_PAUSE") != name:
        return
    with open(os.environ["YUQING_FAULT_FILE"], "a", encoding="utf-8") as f:
        f.write(f"{name} {os.getpid()}\n")
    while True:  # the test kills us here; waiting in a loop keeps a stray signal from waking us
        time.sleep(3600)
