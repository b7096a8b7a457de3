"""argv -> console, headless, or demo.

``s3rb-tui`` opens the console; ``s3rb-tui --run COMMAND ...`` runs one job headless (Textual is
never imported on that path); ``--demo`` points either at the embedded demo workspace.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from s3rb_tui import __version__

USAGE = """\
s3rb-tui [--env-file PATH] [--readonly] [--demo [--demo-reset] [--demo-traffic]] [--run COMMAND [ARGS...]]

Operator console and headless runner for an incremental MySQL -> S3 (Parquet) -> Redshift pipeline.

  s3rb-tui                      open the console (settings from ./.env or --env-file)
  s3rb-tui --demo               open the console on the embedded demo (no servers needed)
  s3rb-tui --run COMMAND ...    run one job headless, for cron/systemd (see --run --help)

Commands for --run:
  backup           MySQL -> S3: changed rows into time-partitioned Parquet
  sync             MySQL -> S3 -> warehouse (--backup-only, --redshift-only, --verify-data)
  tables           every schema you may read, with its tables and views (what -t globs and --all select)
  status           health of source, store, warehouse, tunnels; per-table state
  info             backup strategies and when to use each
  config           every setting with secrets masked; problems listed
  watermark        get | set | reset | list
  watermark-count  set-count | validate-counts
  s3clean          list | clean | clean-all (planned, confirmed, exact)
  clean            delete files older than --days under --prefix (dry run unless --confirm)
  rebuild          drop a warehouse table and load it again from the committed files in the store
  history          every run from every host (-t, --since 24h, --failed); RUN_ID: one in full
  verify           row-level proof that the warehouse holds what MySQL holds (exit 1 names the keys)
  repair           verify, then re-extract and delete what differs as one guarded repair batch

Options:
  --env-file PATH   read settings from PATH instead of ./.env (also --config-file)
  --readonly        change nothing: the console hides every action that writes; with --run,
                    a command that would write is refused (exit 2) and dry runs still work
  --demo            the embedded demo workspace (--demo-reset rebuilds it, --demo-traffic adds
                    live inserts and updates); may come before or after --run COMMAND
  --debug           debug logs, and tracebacks on errors
  --version         print the version and exit
  -h, --help        this help; `s3rb-tui --run COMMAND --help` for a command's options
Options of every --run COMMAND (after it):
  --json            one machine-readable JSON document on stdout (errors too: {"ok": false, ...})
  --log-file PATH   JSON-lines logs to PATH instead of stderr
  --debug, --env-file PATH   as above

Exit codes: 0 success, 1 a job ran and failed, 2 bad usage/input/configuration (nothing changed).
"""

#: top-level flags that may also come after --run COMMAND (`--run status --demo` works too)
_ANYWHERE = ("--demo", "--demo-reset", "--demo-traffic", "--readonly")


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s3rb-tui", usage=USAGE, add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--version", action="store_true")
    p.add_argument("--env-file", "--config-file", dest="env_file")
    p.add_argument("--readonly", action="store_true")
    p.add_argument("--demo", action="store_true")
    p.add_argument("--demo-reset", action="store_true")
    p.add_argument("--demo-traffic", action="store_true")
    p.add_argument("--debug", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    run_args: list[str] | None = None
    if "--run" in argv:
        i = argv.index("--run")
        argv, run_args = argv[:i], argv[i + 1 :]
        argv += [a for a in run_args if a in _ANYWHERE]
        run_args = [a for a in run_args if a not in _ANYWHERE]
    parser = _top_parser()
    opts, unknown = parser.parse_known_args(argv)
    if opts.help and run_args is None:
        sys.stdout.write(USAGE)
        return 0
    if opts.version:
        sys.stdout.write(f"s3rb-tui {__version__}\n")
        return 0
    if unknown:
        sys.stderr.write(f"s3rb-tui: error: unknown option(s) {' '.join(unknown)} (see s3rb-tui --help)\n")
        return 2
    if opts.help:
        run_args = (run_args or []) + ["--help"]

    env_overrides = None
    if opts.demo or opts.demo_reset:
        from s3rb_tui.demo import prepare_demo

        def building(root, rows: int) -> None:
            # stdout stays clean for --json; stderr carries JSON-lines logs in --run mode
            if run_args is None:
                sys.stdout.write(f"building the demo workspace in {root} ({rows:,} delivery rows, a few seconds)...\n")
                sys.stdout.flush()
            else:
                sys.stderr.write(json.dumps({"event": "building the demo workspace", "level": "info", "path": str(root), "rows": rows}) + "\n")

        try:
            env_overrides = prepare_demo(reset=opts.demo_reset, on_build=building)
        except ValueError as e:  # bad S3RB_DEMO_ROWS and the like: bad input, nothing built
            sys.stderr.write(f"s3rb-tui: error: {e}\n")
            return 2
        except Exception as e:  # the demo builds files only; say what failed in one line
            sys.stderr.write(f"s3rb-tui: error: could not prepare the demo workspace: {e.__class__.__name__}: {e}\n")
            return 1
        if opts.demo_traffic and run_args is not None:
            from s3rb_tui.demo import start_traffic

            start_traffic(env_overrides)

    if run_args is not None:
        from s3rb_tui import headless

        if run_args and run_args[0] in ("-h", "--help"):
            headless.build_parser().print_help(sys.stdout)
            return 0
        return headless.main(run_args, env_overrides=env_overrides, env_file=opts.env_file, debug=opts.debug, readonly=opts.readonly)

    from s3rb_tui.tui.app import run_console

    return run_console(env_file=opts.env_file, env_overrides=env_overrides, readonly=opts.readonly, demo=bool(env_overrides), demo_traffic=opts.demo_traffic, debug=opts.debug)


if __name__ == "__main__":
    raise SystemExit(main())
