"""Progress lines on stderr for the per-image stages (preprocess, inference, postprocess)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``label: i/n (pct%) rate`` to stderr about every 10% (and at the end)."""

    def __init__(self, total: int, label: str, enabled: bool = True, every_s: float = 30.0):
        self.total, self.label, self.enabled, self.every_s = total, label, enabled, every_s
        self.t0 = time.perf_counter()
        self.done = 0
        self._next_pct = 10
        self._last = self.t0

    def update(self, n: int = 1, note: str = "") -> None:
        """Count ``n`` more items; ``note`` (e.g. "12 people") is appended to the line."""
        self.done += n
        if not self.enabled:
            return
        pct = 100 * self.done // max(self.total, 1)
        now = time.perf_counter()
        if pct >= self._next_pct or self.done == self.total or now - self._last > self.every_s:
            while self._next_pct <= pct:
                self._next_pct += 10
            self._last = now
            rate = self.done / max(now - self.t0, 1e-9)
            print(f"{self.label}: {self.done}/{self.total} ({pct}%) {rate:.2f} images/s"
                  + (f", {note}" if note else ""), file=sys.stderr, flush=True)
