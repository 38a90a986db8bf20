"""Progress of a long pass over the log, on stderr.

On a terminal: one bar redrawn in place (at most ten times a second). Anywhere
else (a log file, CI): a plain line every ``interval`` seconds, and nothing at
all for a pass shorter than that.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR = 30


class Progress:
    """Call with the position reached; ``total`` is the position the pass ends at."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        interval: float = 5.0,
        tty: bool | None = None,
    ) -> None:
        self.label, self.total = label, max(total, 1)
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = 0.1 if self.tty else interval
        self.started = self._last = time.monotonic()
        self._drawn = False

    def __call__(self, position: int) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        self._draw(position, now)

    def _draw(self, position: int, now: float) -> None:
        fraction = min(position / self.total, 1.0)
        elapsed = max(now - self.started, 1e-9)
        rate = position / elapsed
        text = (
            f"{self.label}: {position:,} of {self.total:,} ({fraction:.0%}), {rate:,.0f} events/s"
        )
        if self.tty:
            filled = int(fraction * BAR)
            bar = "#" * filled + "." * (BAR - filled)
            self.stream.write(f"\r[{bar}] {text}\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        """Clear the bar (on a terminal) so the answer prints on a clean line."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
