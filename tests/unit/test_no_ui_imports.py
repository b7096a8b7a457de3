"""The engine and the headless path never import Textual or Rich (checked in a fresh interpreter)."""

import json
import subprocess
import sys

CODE = """
import json, sys, importlib, pkgutil
import s3rb_tui.engine as engine
import s3rb_tui.headless, s3rb_tui.cli
for m in pkgutil.walk_packages(engine.__path__, 's3rb_tui.engine.'):
    importlib.import_module(m.name)
import s3rb_tui.commands as commands, s3rb_tui.display
for m in pkgutil.walk_packages(commands.__path__, 's3rb_tui.commands.'):
    importlib.import_module(m.name)
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))
"""


def test_engine_and_headless_do_not_import_textual_or_rich():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_headless_run_does_not_import_textual(tmp_path):
    code = ("import sys, runpy; sys.argv=['s3rb-tui','--run','info'];\n"
            "from s3rb_tui.cli import main\nrc = main(['--run','info'])\n"
            "print('UI', [m for m in sys.modules if m.split('.')[0] in ('textual','rich')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "UI []"
