"""What a failed login may cost: one cheap audit write per source and user per window.

Anyone can send ``POST /v3/auth/tokens`` with made-up names, so a failed login
must cost the cloud little. Each one used to append a permanent event (and
fold it, which flushed every cached token validation). Now:

- A failure that counts toward a known user's lockout is written every time
  (the lockout is decided from the log, so every API process counts alike);
  lockout bounds how many of those one user can cause.
- Any other failure (an unknown user or credential, an account already
  locked, a cloud without lockout) is written once per :data:`WINDOW` seconds
  for each (source address, user) pair; the attempts in between are counted
  in memory and carried by the next event written for that pair
  (``AuthenticationFailed.attempts``), so the audit trail keeps every attempt's
  count, and a spray of names costs one small write per name and window.

The table is bounded (:data:`MAX_KEYS`): when it is full, the pair idle the
longest is forgotten. What can be lost is the count of attempts suppressed
after a pair's last written event (a burst's tail, when no attempt of that
pair follows the window, or the pair is forgotten): the first attempt of
every burst is always on the log.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: seconds during which repeated failures of one (source, user) pair are counted, not written
WINDOW = 60.0
#: most (source, user) pairs remembered at once
MAX_KEYS = 10_000


@dataclass
class _Seen:
    since: float
    suppressed: int = 0


class FailureAudit:
    """Decides which failed logins are written, and with how many attempts."""

    def __init__(
        self,
        window: float = WINDOW,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], _Seen] = OrderedDict()

    def attempts_to_write(self, source: str | None, user: str | None) -> int:
        """How many attempts the event for this failure should carry; 0: write none."""
        key = (source or "", user or "")
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.since < self.window:
            seen.suppressed += 1
            self._seen.move_to_end(key)
            return 0
        carried = seen.suppressed if seen is not None else 0
        self._seen[key] = _Seen(since=now)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return 1 + carried
