"""ConsoleApp: the operator console's shell — modes (screens), global keys, jobs, quit.

Each screen is a Textual mode (1..6 or the command palette). Engine work runs in thread workers
that only post messages; this class owns the job list and the log buffer, both changed only on
the UI thread. ``--readonly`` disables every state-changing action through ``check_action``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from textual import on, work
from textual.app import App
from textual.binding import Binding

from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.logs import Redactor
from s3rb_tui.tui.messages import JobEnded, JobEvent, JobsChanged
from s3rb_tui.tui.modes import DESTRUCTIVE_ACTIONS, SCREEN_CLASSES, SCREEN_KEYS
from s3rb_tui.tui.palette import ActionsProvider
from s3rb_tui.tui.workers import JobFunction, JobState, LogBuffer, describe_error, event_log_text

#: console jobs that the runner records (``start_job``): every run, as the headless commands do
RECORDED_JOBS = frozenset({"verify", "repair", "rebuild", "clean"})


def _screen_factory(mode: str) -> Callable:
    module, name = SCREEN_CLASSES[mode]
    return lambda: getattr(importlib.import_module(module), name)()


class ConsoleApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live anywhere
    TITLE = "s3rb-tui"
    #: the app starts in this mode (no blank default screen, no switch, no delayed first frame)
    DEFAULT_MODE = "dashboard"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        *(Binding(key, f"show('{mode}')", label, id=f"screen.{mode}", show=False) for key, mode, label in SCREEN_KEYS),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.palette", show=False),
        Binding("t", "toggle_traffic", "Demo traffic", id="app.demo_traffic"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit_now", show=False, priority=True),
    ]

    def __init__(
        self,
        settings,
        workspace=None,
        *,
        readonly: bool = False,
        demo: bool = False,
        clock: Callable[[], dt.datetime] | None = None,
        stable: bool = False,
        refresh_seconds: float = 15.0,
        debug: bool = False,
        demo_env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        for mode in SCREEN_CLASSES:
            if mode != self.DEFAULT_MODE:  # the first screen: get_default_screen, then on_mount
                self.add_mode(mode, _screen_factory(mode))
        self.settings = settings
        #: the engine Workspace, built on first use (``workspace``): the first frame does not
        #: wait for the engine's imports
        self._workspace = workspace
        self._workspace_lock = threading.Lock()
        self.readonly = readonly
        self.demo = demo
        #: the demo workspace's settings (for live traffic), and the traffic thread when it runs
        self.demo_env = dict(demo_env) if demo_env else None
        self.traffic = None
        self._clock = clock
        #: snapshot mode: hide values that depend on the wall clock or the run (durations, rates)
        self.stable = stable
        self.refresh_seconds = refresh_seconds
        self.debug_errors = debug or settings.bool("DEBUG")
        self.redact = Redactor(settings.secrets)  # secrets never reach the screen
        self.jobs: dict[str, JobState] = {}
        self.log_buffer = LogBuffer()
        self.selected_table: str | None = None
        self._quitting = False
        #: the "Quit while a job runs?" question while it is open
        self._quit_dialog = None
        #: callbacks waiting for the first frame on the terminal (None once it has been shown)
        self._after_first_frame: list[Callable[[], object]] | None = []
        if readonly:
            self.sub_title = "read-only"
        if demo:
            self.sub_title = "demo" + (" · read-only" if readonly else "")

    def notify(self, message: str, *, title: str = "", markup: bool = False, **kwargs: Any) -> None:
        """Every notification: secrets masked, and text shown as written (no markup parsing)."""
        super().notify(self.redact(str(message)), title=self.redact(str(title)), markup=markup, **kwargs)

    @property
    def workspace(self):
        """The engine Workspace (thread-safe: the first to ask, often a worker, builds it)."""
        if self._workspace is None:
            with self._workspace_lock:
                if self._workspace is None:
                    from s3rb_tui.engine.wiring.workspace import Workspace

                    self._workspace = Workspace(self.settings)
        return self._workspace

    # --- time ----------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        return self._clock() if self._clock else dt.datetime.now(dt.timezone.utc)

    @property
    def clock_frozen(self) -> bool:
        return self._clock is not None

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def first_frame_shown(self) -> bool:
        return self._after_first_frame is None

    def after_first_frame(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the UI thread once the first frame has been displayed (at once if it
        has): background reads start then, so their imports and queries never delay that frame."""
        if self._after_first_frame is None:
            self.call_later(callback)
        else:
            self._after_first_frame.append(callback)

    def post_display_hook(self) -> None:
        # Textual calls this after every display attempt, also while a batch update (start-up,
        # mode switches) holds the output back; only an unbatched display reaches the terminal.
        if self._after_first_frame is not None and not getattr(self, "_batch_count", 0):
            callbacks, self._after_first_frame = self._after_first_frame, None
            for callback in callbacks:
                self.call_later(callback)

    def get_default_screen(self):
        """The first screen, built as Textual builds an app's default screen: a mode's first
        screen would cost a second parse of every stylesheet before the first frame."""
        return _screen_factory(self.DEFAULT_MODE)()

    def on_mount(self) -> None:
        # from now on the first screen is a mode like the others (its screen exists: it is reused)
        self.add_mode(self.DEFAULT_MODE, _screen_factory(self.DEFAULT_MODE))
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._terminal_gone)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        for w in self.settings.warnings:
            self.notify(w, title="configuration", severity="warning", timeout=10)
        if self.settings.problems:
            self.notify(
                f"{len(self.settings.problems)} configuration problem(s): {self.settings.problems[0]}",
                title="configuration — see Config (6)",
                severity="error",
                timeout=15,
            )

    def _terminal_gone(self) -> None:
        for job in self.running_jobs():
            job.cancel.cancel("the terminal went away")
        self.exit(1)

    def on_unmount(self) -> None:
        for job in self.running_jobs():
            job.cancel.cancel("the console closed")
        if self.traffic is not None:
            self.traffic.stop()
        if self._workspace is not None:
            self._workspace.close()

    # --- actions ---------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        from s3rb_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        running = self.running_jobs()
        if not running:
            self.exit(0)
            return
        from s3rb_tui.tui.screens.dialogs import ConfirmDialog

        names = ", ".join(j.title for j in running)

        def answered(yes: bool | None) -> None:
            self._quit_dialog = None
            if yes:
                self._quitting = True
                if not self.running_jobs():  # it ended while the question was open
                    self.exit(0)
                    return
                for job in self.running_jobs():
                    job.cancel.cancel("the console is quitting")
                    job.status = JobStatus.CANCELLING
                self.notify("Cancelling at the next batch edge, then quitting...", timeout=30)
                self.post_message(JobsChanged())

        self._quit_dialog = ConfirmDialog(
            "Quit while a job runs?",
            f"Running: {names}.\nQuitting cancels it at its next batch edge; committed batches stay committed.",
            confirm_label="Cancel job and quit",
            cancel_label="Keep running",
        )
        self.push_screen(self._quit_dialog, answered)

    def get_system_commands(self, screen):
        """Textual's palette commands, less Quit and Keys: the console's own Quit (asks while a job
        runs) and Help are in the palette already, once each."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys"):
                yield command

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.readonly and action in DESTRUCTIVE_ACTIONS:
            return False  # hidden from the footer and the palette, and not run
        if action == "toggle_traffic" and not (self.demo and self.demo_env):
            return False  # only the demo has live traffic
        return True

    def action_toggle_traffic(self) -> None:
        """Demo only: insert new parcels and move statuses every few seconds, or stop doing so."""
        if self.traffic is not None and self.traffic.running:
            self._stop_traffic()
            return
        from s3rb_tui.demo import start_traffic

        self.traffic = start_traffic(dict(self.demo_env or {}))
        self.notify("demo traffic on: new rows and status changes every few seconds, now and then a claim withdrawn (deleted; "
                    "V on Tables finds it, R repairs it). t stops it", title="demo")

    @work(thread=True, exclusive=True, group="traffic")
    def _stop_traffic(self) -> None:
        traffic, self.traffic = self.traffic, None
        if traffic is not None:
            traffic.stop()  # waits for the current tick to finish: off the UI thread
            self.call_from_thread(self.notify, f"demo traffic off after {traffic.ticks} ticks: {traffic.inserted:,} rows inserted, {traffic.updated:,} updated, "
                                 f"{traffic.deleted:,} deleted", title="demo")

    # --- jobs ----------------------------------------------------------------------------
    def running_jobs(self) -> list[JobState]:
        return [j for j in self.jobs.values() if j.running]

    def start_job(self, name: str, title: str, tables: Iterable[str], fn: JobFunction, reads_only: bool = False, *,
                  on_event: Callable[[JobState], None] | None = None, on_end: Callable[[JobState], None] | None = None,
                  record: dict[str, Any] | None = None) -> JobState | None:
        """Run ``fn(ctx)`` (an engine job) in a thread worker; events come back as messages. The one
        runner of every state-changing action: each is listed on Jobs and writes to the log.
        ``reads_only``: a job that changes nothing (verify) runs in a read-only console too.
        ``on_event``/``on_end`` let what started it (a dialog) follow it, on the UI thread.
        A job named in ``RECORDED_JOBS`` writes a run record (``record``: its options; default
        its tables); backup and sync record themselves (their options and metrics file)."""
        if self.readonly and not reads_only:
            self.notify("read-only console: jobs are disabled", severity="warning")
            return None
        if name in RECORDED_JOBS and not self.readonly:  # read-only: not even a record is written
            from s3rb_tui.engine.history.tracking import recorded_job

            fn = recorded_job(self.workspace, fn, command=name, options=record or {"tables": list(tables)},
                              tables=list(tables), redact=self.redact)
        state = JobState(job_id=os.urandom(6).hex(), name=name, title=title, tables=list(tables), on_event=on_event, on_end=on_end)
        self.jobs[state.job_id] = state
        self.log_buffer.add(state.job_id, "info", None, f"{title}: queued")
        self._job_worker(state, fn)
        self.post_message(JobsChanged())
        return state

    @work(thread=True, group="jobs", exit_on_error=False)
    def _job_worker(self, state: JobState, fn: JobFunction) -> None:
        ctx = JobContext(state.name, sink=lambda ev: self.post_message(JobEvent(state.job_id, ev)), cancel=state.cancel, job_id=state.job_id)
        try:
            results = fn(ctx)
        except BaseException as e:  # reported on the UI thread; the app keeps running
            self.post_message(JobEnded(state.job_id, list(ctx.results), e))
            return
        self.post_message(JobEnded(state.job_id, list(results if results is not None else ctx.results), None))

    @on(JobEvent)
    def _on_job_event(self, message: JobEvent) -> None:
        job = self.jobs.get(message.job_id)
        if job is None:
            return
        job.apply(message.event)
        line = event_log_text(message.event, self.stable)
        if line is not None:
            self.log_buffer.add(job.job_id, line[0], getattr(message.event, "table", None), self.redact(line[1]), message.event.time)
        if job.on_event is not None:
            job.on_event(job)

    @on(JobEnded)
    def _on_job_ended(self, message: JobEnded) -> None:
        job = self.jobs.get(message.job_id)
        if job is None:
            return
        job.finish(message.results, message.error)
        rows, files = job.totals
        summary = f"{job.title}: {job.status} — {rows:,} rows, {files} files"
        self.log_buffer.add(job.job_id, "error" if job.status == JobStatus.FAILED else "info", None, self.redact(summary + (f" — {job.error}" if job.error else "")))
        if job.status == JobStatus.FAILED:
            self.notify(f"{job.error}" + (f"\nHint: {job.hint}" if job.hint else ""), title=f"{job.title} failed", severity="error", timeout=15)
        elif job.on_end is None:  # else what started the job says how it went
            self.notify(summary, title="job finished", severity="warning" if job.status == JobStatus.CANCELLED else "information")
        if job.on_end is not None:
            job.on_end(job)
        self.post_message(JobsChanged())
        if self._quitting and not self.running_jobs():
            self.exit(0)
        elif self._quit_dialog is not None and not self.running_jobs():
            # the question is moot: close it rather than leave it asking about a job that ended
            dialog, self._quit_dialog = self._quit_dialog, None
            if self.screen is dialog:
                dialog.dismiss(None)
            self.notify("the job ended: q quits now without asking", title="quit")

    @on(JobsChanged)
    def _on_jobs_changed(self, message: JobsChanged) -> None:
        from s3rb_tui.tui.widgets.nav import NavBar

        for screen in self.screen_stack:
            for bar in screen.query(NavBar):
                bar.render_bar()
            if hasattr(screen, "jobs_changed"):
                screen.jobs_changed()

    def show_error(self, title: str, err: BaseException) -> None:
        message, hint = describe_error(err)
        if self.debug_errors:  # --debug: the traceback goes to the Textual log (textual console)
            import traceback

            self.log.error("".join(traceback.format_exception(err)))
        self.notify(message + (f"\nHint: {hint}" if hint else ""), title=title, severity="error", timeout=15)

    # --- engine jobs the screens and the palette start ------------------------------------
    def run_backup(self, tables: list[str], *, dry_run: bool = False, limit: int | None = None) -> JobState | None:
        ws = self.workspace

        def job(ctx: JobContext):
            from s3rb_tui.engine.ops.backup import run_backup
            from s3rb_tui.engine.history.tracking import tracked_run

            options = {"tables": tables, "dry_run": dry_run, "limit": limit}
            with tracked_run(ws, ctx, command="backup", options=options, trigger="console", tables=tables, redact=self.redact,
                             metrics_file=ws.settings.str("METRICS_FILE") or None) as run:
                run.results = run_backup(ws, [ws.table_ref(t) for t in tables], ctx, dry_run=dry_run, limit=limit)
            return run.results

        title = ("dry run " if dry_run else "backup ") + ", ".join(tables)
        return self.start_job("backup", title, tables, job)

    def run_sync(self, tables: list[str], *, backup_only: bool = False, load_only: bool = False, verify_data: bool = False, dry_run: bool = False) -> JobState | None:
        ws = self.workspace

        def job(ctx: JobContext):
            from s3rb_tui.engine.history.tracking import tracked_run
            from s3rb_tui.engine.ops.sync import run_sync

            options = {"tables": tables, "backup_only": backup_only, "redshift_only": load_only,
                       "verify_data": verify_data, "dry_run": dry_run}
            with tracked_run(ws, ctx, command="sync", options=options, trigger="console", tables=tables, redact=self.redact,
                             metrics_file=ws.settings.str("METRICS_FILE") or None) as run:
                run.results = run_sync(
                    ws,
                    [ws.table_ref(t) for t in tables],
                    ctx,
                    backup_only=backup_only,
                    load_only=load_only,
                    verify=verify_data,
                    dry_run=dry_run,
                )
            return run.results

        kind = "load only" if load_only else "verify" if verify_data else "sync"
        return self.start_job("sync", f"{kind} " + ", ".join(tables), tables, job)

    def run_verify(self, tables: list[str]) -> JobState | None:
        """Row-level verify (engine/verify.py) as a job: segment progress, then the keys by kind in its log."""
        ws = self.workspace

        def job(ctx: JobContext):
            from s3rb_tui.engine.ops.verify_table import run_verify

            return run_verify(ws, [ws.table_ref(t) for t in tables], ctx)

        return self.start_job("verify", "verify rows " + ", ".join(tables), tables, job, reads_only=True)


def run_console(
    env_file: str | None = None,
    env_overrides: Mapping[str, str] | None = None,
    readonly: bool = False,
    demo: bool = False,
    demo_traffic: bool = False,
    debug: bool = False,
) -> int:
    """Open the console; returns the process exit code (2: the configuration cannot be read)."""
    from s3rb_tui.engine.core.errors import S3rbError
    from s3rb_tui.settings import load_settings

    try:
        environ = dict(os.environ)
        if env_overrides:
            environ.update(env_overrides)
            settings = load_settings(None, environ=environ, cwd=Path("/nonexistent-s3rb-demo-dir"))
        else:
            settings = load_settings(env_file, environ=environ)
    except S3rbError as e:
        sys.stderr.write(f"s3rb-tui: error: {e}\n")
        return e.exit_code
    app = ConsoleApp(settings, readonly=readonly, demo=demo, debug=debug, demo_env=env_overrides if demo else None)
    if demo and demo_traffic and env_overrides and not readonly:
        from s3rb_tui.demo import start_traffic

        app.traffic = start_traffic(dict(env_overrides))
    try:
        result = app.run()
    finally:
        if app.traffic is not None:
            app.traffic.stop()
    if app.return_code not in (None, 0):
        return int(app.return_code)
    return int(result or 0)
