"""Alerts: one JSON POST to ``ALERT_WEBHOOK_URL`` per failed run, and one when a table whose last
run failed succeeds again (recovered); with ``ALERT_ON=always`` a run that neither failed nor
recovered a table is told too.

The body has a Slack-compatible ``text`` (one line: the tables and the first error) and the run
document (``run``), both passed through the run's redactor. Delivery waits at most
``TIMEOUT_SECONDS`` per attempt and makes ``ATTEMPTS`` attempts (two retries, exponential backoff
from tenacity) on a connection error, a timeout, a 429 or a 5xx; then it logs a warning. It never
raises: the run's exit code is the job's, whatever the webhook does.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from s3rb_tui.engine.history.records import OK_TABLE_STATUSES, RunRecord, command_family, list_records
from s3rb_tui.engine.stores.base import ObjectStore

TIMEOUT_SECONDS = 5.0
ATTEMPTS = 3  # the first and two retries
#: the error quoted in the one-line text is cut here (the run document has all of it)
TEXT_ERROR_CHARS = 300
#: how far back the previous outcome of a table is looked for (records, newest first)
PREVIOUS_RUNS_SCANNED = 200


class _Retryable(Exception):
    """A failure worth another attempt: no answer, a timeout, a 429 or a 5xx."""


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    seconds: float
    status: int | None = None
    error: str | None = None


def previous_outcomes(store: ObjectStore, tables: list[str], run_id: str, command: str = "backup") -> dict[str, str]:
    """Each table's status in the newest earlier run of ``command``'s family that had it (a record
    per run, newest first): a verify that passes after a failed backup is no recovery of it."""
    found: dict[str, str] = {}
    family = command_family(command)
    for rec in list_records(store, tables=tables, limit=PREVIOUS_RUNS_SCANNED):
        if rec.run_id >= run_id or command_family(rec.command) != family:  # this run, a later one, another kind
            continue
        for t in rec.tables:
            name = str(t.get("table"))
            if name in tables and name not in found and t.get("status") not in ("pending", "running", "skipped"):
                found[name] = "failed" if t.get("status") not in OK_TABLE_STATUSES else "ok"
        if len(found) == len(tables):
            break
    return found


def alerts_for(doc: dict[str, Any], previous: dict[str, str], on: str) -> list[dict[str, Any]]:
    """The POST bodies this run calls for (none, one or two)."""
    rec = RunRecord.from_doc(doc)
    who = f"s3rb-tui {rec.command} on {rec.where}"
    bodies = []
    if rec.status in ("failed", "abandoned"):
        failed = rec.failed_tables
        error = (rec.first_error or "no error recorded").replace("\n", " ")
        if len(error) > TEXT_ERROR_CHARS:
            error = error[:TEXT_ERROR_CHARS] + "…"
        what = ", ".join(failed) if failed else "the run"
        bodies.append({"event": "failed", "text": f"{who} failed: {what} — {error}", "run": doc})
    recovered = [t for t in rec.ok_tables if previous.get(t) == "failed" and (rec.table(t) or {}).get("status") != "skipped"]
    if recovered:
        bodies.append({"event": "recovered", "recovered_tables": recovered,
                       "text": f"{who}: {', '.join(recovered)} recovered (succeeded after a failed run)", "run": doc})
    if on == "always" and not bodies:
        seconds = rec.duration_seconds or 0.0
        bodies.append({"event": rec.status, "text": f"{who} {rec.status}: {len(rec.tables)} table(s), {rec.rows:,} rows in {seconds:.1f}s",
                       "run": doc})
    return bodies


def _post_once(url: str, data: bytes, timeout: float) -> int:
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "s3rb-tui"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        if e.code == 429 or e.code >= 500:
            raise _Retryable(f"HTTP {e.code}") from None
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise _Retryable(f"{reason.__class__.__name__}: {reason}") from None


def deliver(url: str, body: dict[str, Any], *, redact: Callable[[str], str] = lambda s: s,
            log: Callable[..., None] | None = None, timeout: float = TIMEOUT_SECONDS, attempts: int = ATTEMPTS,
            backoff: float = 0.5) -> Delivery:
    """POST ``body``; never raises. ``log`` gets one warning when every attempt failed."""
    log = log or (lambda *a, **k: None)
    data = redact(json.dumps(body, default=str, ensure_ascii=False)).encode("utf-8")
    started = time.monotonic()
    tries = 0
    try:
        for attempt in Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=backoff, max=4 * backoff),
                                retry=retry_if_exception_type(_Retryable), reraise=False):
            with attempt:
                tries = attempt.retry_state.attempt_number
                status = _post_once(url, data, timeout)
        seconds = round(time.monotonic() - started, 3)
        log("alert delivered", event_kind=body.get("event"), status=status, attempts=tries, seconds=seconds)
        return Delivery(True, tries, seconds, status)
    except RetryError as e:
        error = str(e.last_attempt.exception())
    except urllib.error.HTTPError as e:
        error = f"HTTP {e.code}"
    except Exception as e:  # a malformed URL and the like: still only a warning
        error = f"{e.__class__.__name__}: {e}"
    seconds = round(time.monotonic() - started, 3)
    log("alert not delivered; the run's result stands", level="warning", event_kind=body.get("event"),
        attempts=tries, seconds=seconds, error=redact(error))
    return Delivery(False, tries, seconds, None, redact(error))


def send_alerts(store: ObjectStore, url: str, on: str, doc: dict[str, Any], *, redact: Callable[[str], str],
                log: Callable[..., None]) -> list[Delivery]:
    """Everything this run calls for, delivered one after the other; never raises."""
    try:
        rec = RunRecord.from_doc(doc)
        previous = previous_outcomes(store, rec.ok_tables, rec.run_id, rec.command) if rec.ok_tables else {}
    except Exception as e:  # the history cannot be read: recoveries are not known, failures still go
        log("alerts: previous runs not read; recoveries are not reported", level="warning", error=redact(f"{e.__class__.__name__}: {e}"))
        previous = {}
    return [deliver(url, body, redact=redact, log=log) for body in alerts_for(doc, previous, on)]
