"""Running the CLI on a real pseudo-terminal (the prompts of state-changing commands)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys


def run_in_terminal(args: list[str], env: dict, answers: bytes, cwd) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout, typing ``answers``; (exit code, output)."""
    primary, secondary = pty.openpty()
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "AWS_EC2_METADATA_DISABLED": "true", **env}
    proc = subprocess.Popen([sys.executable, "-m", "s3rb_tui", *args], stdin=secondary, stdout=secondary,
                            stderr=subprocess.PIPE, env=child_env, cwd=str(cwd))
    os.close(secondary)
    os.write(primary, answers)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    code = proc.wait(timeout=120)
    os.close(primary)
    return code, out.decode(errors="replace")
