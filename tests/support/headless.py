"""The command line run in this process: ``s3rb_tui.cli.main`` (which hands ``--run`` to
``headless.main``) with the environment, working directory and standard streams a fresh
``python -m s3rb_tui`` would have, and the output captured.

Why in process: a child interpreter costs ~1 s of imports per call (measured on this machine: the
three headless usage files took ~60 s in subprocesses). A few tests keep the subprocess on purpose:
they check the real entry point's exit code and that it imports without the console.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

#: variables kept from this process; everything else is what the test passes (as with the child's env)
KEPT = ("PATH", "PYTEST_CURRENT_TEST", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE")


@dataclass(frozen=True)
class CliResult:
    """What a finished command left: like subprocess.CompletedProcess's fields of the same names."""

    returncode: int
    stdout: str
    stderr: str


def run_in_process(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None) -> CliResult:
    """``s3rb-tui *args`` in this process: environment = PATH (and the kept locale) + HOME=cwd +
    ``env``; working directory ``cwd`` (default /tmp); stdin empty and not a terminal; exit code from
    the return value or a SystemExit. The process's environment, directory and streams are restored."""
    from s3rb_tui import cli

    workdir = Path(cwd or "/tmp")
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_stdin = sys.stdin
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in saved_env.items() if k in KEPT})
        os.environ.update({"HOME": str(workdir), **(env or {})})
        os.chdir(workdir)
        sys.stdin = io.StringIO("")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exit_:
                if isinstance(exit_.code, str):
                    err.write(exit_.code + "\n")
                    code = 1
                else:
                    code = exit_.code or 0
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return CliResult(int(code), out.getvalue(), err.getvalue())
