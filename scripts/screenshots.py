"""Regenerate screenshots/*.svg: one SVG per console screen, on deterministic demo data.

    python scripts/screenshots.py [--out screenshots]

The workspaces are the ones the snapshot tests use (tests/tui/workspace.py: the demo's data with a
fixed anchor, a real backup and load, files named by a pinned run start), and the console runs with a
frozen clock, so the pictures only change when the console or the data does.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.tui import tour  # noqa: E402
from tests.tui import workspace as wsdata  # noqa: E402

WORK = Path("/tmp/s3rb-tui-screenshots")
SIZE = (120, 36)


async def shoot(name: str, env: dict[str, str], out: Path, size: tuple[int, int] = SIZE, step_name: str | None = None) -> Path:
    from s3rb_tui.settings import build_settings
    from s3rb_tui.tui.app import ConsoleApp

    step, _ = tour.SCREENS[step_name or name]
    app = ConsoleApp(build_settings(env), clock=wsdata.frozen_clock, stable=True, refresh_seconds=0)
    async with app.run_test(size=size) as pilot:
        await step(pilot)
        svg = app.export_screenshot(title=f"s3rb-tui — {name.replace('_', ' ')}")
    path = out / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if WORK.exists():
        shutil.rmtree(WORK)
    synced = wsdata.build(WORK / "synced", rows=3000, state="synced")
    for name, (_, kind) in tour.SCREENS.items():
        if kind == "synced":
            root = WORK / f"copy-{name}"
            shutil.copytree(WORK / "synced", root)
            env = wsdata.env_for(root)
        else:
            env = wsdata.build(WORK / f"source-{name}", rows=3000, state="source")
        print(await shoot(name, env, out))
    print(await shoot("dashboard_80x24", synced, out, size=(80, 24), step_name="dashboard"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    asyncio.run(main(parser.parse_args().out))
