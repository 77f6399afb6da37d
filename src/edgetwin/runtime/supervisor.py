"""Keep a source running: restart it after failures with exponential back-off.

A source that raises is logged, reported as `down`, and restarted after a delay that doubles
up to `max_backoff_s` (with jitter so a fleet does not reconnect in lock-step). A run that
lasted longer than `reset_after_s` resets the delay: one blip an hour should not wait 30 s.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgetwin.runtime.interfaces import Emit, Source

log = logging.getLogger(__name__)

StateCallback = Callable[[str, str, str], None]  # (source name, state, detail)


@dataclass
class SourceHealth:
    """What the twin and the logs show about one source."""

    state: str = "starting"  # starting | up | down | finished | stopped
    restarts: int = 0
    last_error: str = ""
    next_retry_s: float = 0.0
    history: list[tuple[float, str]] = field(default_factory=list)


async def supervise(
    source: Source,
    emit: Emit,
    *,
    on_state: StateCallback | None = None,
    min_backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
    reset_after_s: float = 60.0,
    max_restarts: int | None = None,
    health: SourceHealth | None = None,
) -> SourceHealth:
    """Run `source` until it finishes, is cancelled, or exceeds `max_restarts`."""
    health = health or SourceHealth()
    delay = min_backoff_s

    def report(state: str, detail: str = "") -> None:
        health.state = state
        health.history.append((time.time(), state))
        del health.history[:-50]
        if on_state:
            on_state(source.name, state, detail)

    while True:
        started = time.monotonic()
        report("up")
        try:
            await source.run(emit)
        except asyncio.CancelledError:
            report("stopped")
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a source is a restart, by design
            health.last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started > reset_after_s:
                delay = min_backoff_s
            health.restarts += 1
            if max_restarts is not None and health.restarts > max_restarts:
                log.error(
                    "source %s failed %d times, giving up: %s", source.name, health.restarts, exc
                )
                report("down", health.last_error)
                return health
            wait = delay * (1.0 + 0.2 * random.random())
            health.next_retry_s = wait
            log.warning(
                "source %s failed (%s); restart %d in %.1f s",
                source.name,
                exc,
                health.restarts,
                wait,
            )
            report("down", health.last_error)
            await asyncio.sleep(wait)
            delay = min(delay * 2.0, max_backoff_s)
            continue
        report("finished")
        return health
