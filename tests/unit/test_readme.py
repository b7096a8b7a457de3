"""README.md stays true: every variable documented, and .ci/run runs the README's test command."""

from pathlib import Path

from s3rb_tui.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_variable_is_documented():
    missing = [v.name for v in VARIABLES if f"`{v.name}`" not in README]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    command = ".venv/bin/python -m pytest -q"
    assert f"```bash\n{command}\n```" in README
    assert f"exec {command}" in (ROOT / ".ci" / "run").read_text()


def test_readme_opens_with_the_two_commands():
    blocks = README.split("```bash\n")
    assert blocks[1].startswith("python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/s3rb-tui --demo")
    assert blocks[2].startswith("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q")


def test_readme_answers_the_questions_of_issue_13():
    """What a new user asked and did not find (issue 13), each tied to the behaviour it describes."""
    import datetime as dt

    from s3rb_tui.engine.core.durations import parse_duration

    assert "What you must set: **`S3_BUCKET_NAME`**" in README
    assert "**`--dry-run` or `--estimate`?**" in README and "then **runs** the job" in README
    assert "`1m` is one minute, not a month" in README and parse_duration("1m") == dt.timedelta(minutes=1)
    assert "A `set`\nnever reloads files the warehouse has already loaded" in README
    assert "`s3rb-tui --run tables` lists every schema" in README and "`--all` selects every base table" in README
    assert "needs `--force` and is\n  refused otherwise" in README
