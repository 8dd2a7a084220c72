"""Warm-up of a web or worker process: the one-time costs of the first generated and signed
document (parsing the CJK font, importing pyHanko, about half a second) paid when the process
starts instead of by its first request or task. See docs/performance.md.

Synchronous on purpose: a background thread could hold a lock at the moment a preloading server
forks, and the child would wait for that lock forever."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger(__name__)


def run() -> None:
    started = time.perf_counter()
    try:
        from casehub.pdfgen.fonts import warm_up as warm_fonts
        from signing.pades import warm_up as warm_signing

        warm_fonts()
        warm_signing()
    except Exception:  # a failed warm-up only costs speed later
        logger.exception("process warm-up failed")
    else:
        logger.info("process warmed up for documents in %.2f s", time.perf_counter() - started)


def run_in_background() -> None:
    """For a process that will not fork again (a Celery pool process): warm up without delaying
    its start, which Celery allows only a few seconds."""
    import threading

    threading.Thread(target=run, name="casehub-warm-up", daemon=True).start()
