"""JSON-lines logging for the headless runner, with secrets scrubbed from every line.

One event per line: ``event``, ``level``, ``timestamp``, plus fields. Never imports Textual/Rich.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import IO, Any, Iterable

from s3rb_tui.engine.core.events import EngineEvent, JobFinished, JobStarted, LogEvent, Progress, TableDone

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Redactor:
    """Replaces every configured secret value with ``****`` in text."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "****")
        return text


class JsonLogger:
    def __init__(self, stream: IO[str], level: str = "info", redact: Redactor | None = None, progress_every: float = 2.0):
        self.stream = stream
        self.threshold = LEVELS.get(level.lower(), 20)
        self.redact = redact or Redactor(())
        self._lock = threading.Lock()
        self.progress_every = progress_every
        self._last_progress: dict[str, float] = {}

    def log(self, event: str, level: str = "info", **fields: Any) -> None:
        if LEVELS.get(level, 20) < self.threshold:
            return
        record = {
            "event": event,
            "level": level,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            **fields,
        }
        line = self.redact(json.dumps(record, default=str, ensure_ascii=False))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def on_event(self, ev: EngineEvent) -> None:
        """One typed engine event as one line (progress throttled per table and phase); the field
        names are the log's contract with cron wrappers and log shippers."""
        if isinstance(ev, LogEvent):
            if ev.table:
                self.log(ev.message, ev.level, job_id=ev.job_id, table=ev.table, **ev.fields)
            else:
                self.log(ev.message, ev.level, job_id=ev.job_id, **ev.fields)
        elif isinstance(ev, Progress):
            now = time.monotonic()
            key = f"{ev.table}:{ev.phase}"
            if now - self._last_progress.get(key, 0.0) >= self.progress_every:
                self._last_progress[key] = now
                self.log("progress", "info", job_id=ev.job_id, table=ev.table, **ev.record())
        elif isinstance(ev, TableDone):
            self.log("table done", "info" if ev.result.ok else "error", job_id=ev.job_id, table=ev.table, **ev.record())
        elif isinstance(ev, JobStarted):
            self.log("job started", "info", job_id=ev.job_id, **ev.record())
        elif isinstance(ev, JobFinished):
            self.log(ev.message, "info" if ev.success else "error", job_id=ev.job_id, **ev.record())
