"""A real OpenSSH server on loopback with keys generated at test time (our SSH bastion).

Non-root-safe: everything (host key, the user's key pair, authorized_keys, pid file, log, config)
lives in one temporary directory; it listens on 127.0.0.1 and a free port; only public-key login
for the current user is allowed.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from .availability import is_root
from .waiting import Timeout, free_port, wait_until

SSHD = "/usr/sbin/sshd"  # sshd must be run by absolute path (it re-executes itself)
START_TIMEOUT = 20.0


@dataclass
class SshServer:
    host: str
    port: int
    user: str
    key_path: str  # the user's private key (ed25519, mode 600)
    known_hosts_path: str  # one line: [127.0.0.1]:port with the host key
    host_key_fingerprint: str  # "SHA256:..." as `ssh-keygen -lf` prints it
    host_key_path: str
    config_path: str
    log_path: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        """The listening sshd; each connection is served by a child of this process."""
        return self.process.pid

    def session_pids(self) -> list[int]:
        """Pids of the sshd processes serving connections right now (kill one to drop a live tunnel)."""
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children(recursive=False)]
        except psutil.NoSuchProcess:
            return []

    def log_text(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if Path(self.log_path).exists() else ""


def keygen(path: Path, comment: str) -> None:
    """A new ed25519 key pair at ``path`` / ``path.pub``, no passphrase."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, text=True, timeout=30)


def fingerprint(public_key_path: Path) -> str:
    """``SHA256:...`` of a public key, exactly as ``ssh-keygen -lf`` prints it."""
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(public_key_path)],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return out.split()[1]


def known_hosts_line(host: str, port: int, public_key_path: Path) -> str:
    """``[host]:port <type> <base64>`` for a known_hosts file."""
    key_type, key_b64 = Path(public_key_path).read_text().split()[:2]
    return f"[{host}]:{port} {key_type} {key_b64}\n"


def _config(directory: Path, port: int, user: str) -> str:
    lines = [
        f"ListenAddress 127.0.0.1:{port}",
        f"HostKey {directory / 'host_ed25519'}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}",
        f"AllowUsers {user}",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "AllowTcpForwarding yes",
        "PermitTunnel no",
        "X11Forwarding no",
        "PrintMotd no",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "LogLevel VERBOSE",
    ]
    return "\n".join(lines) + "\n"


def _banner_received(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def start(directory: Path, attempts: int = 3) -> SshServer:
    """Generate keys under ``directory``, start sshd -D on a free port, wait until it sends its banner.

    The port is picked before sshd binds it; if another process takes it meanwhile, a new port is tried.
    """
    if not Path(SSHD).exists():
        raise FileNotFoundError(f"{SSHD} not found (apt-get install openssh-server)")
    if is_root():
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory sshd insists on
    directory.mkdir(parents=True, exist_ok=True)
    keygen(directory / "host_ed25519", "s3rb-test-host")
    keygen(directory / "user_ed25519", "s3rb-test-user")
    (directory / "authorized_keys").write_text((directory / "user_ed25519.pub").read_text())
    for _ in range(attempts):
        server = _launch(directory, free_port("127.0.0.1"), getpass.getuser())
        if server.process.poll() is None:
            return server
    raise RuntimeError(f"sshd could not bind a free port in {attempts} attempts: {server.log_text()[-500:]}")


def _launch(directory: Path, port: int, user: str) -> SshServer:
    host = "127.0.0.1"
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(known_hosts_line(host, port, directory / "host_ed25519.pub"))
    config = directory / "sshd_config"
    config.write_text(_config(directory, port, user))
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"sshd rejected the generated config: {check.stderr.strip()}")
    log = directory / "sshd.log"
    log.write_text("")
    with log.open("ab") as log_file:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=log_file, start_new_session=True)
    server = SshServer(host=host, port=port, user=user, key_path=str(directory / "user_ed25519"),
                       known_hosts_path=str(known_hosts), host_key_fingerprint=fingerprint(directory / "host_ed25519.pub"),
                       host_key_path=str(directory / "host_ed25519"), config_path=str(config), log_path=str(log),
                       process=process)
    try:
        wait_until(lambda: process.poll() is not None or _banner_received(host, port), START_TIMEOUT,
                   f"sshd banner on {host}:{port}", interval=0.05)
    except Timeout:
        stop(server)
        raise RuntimeError(f"sshd did not answer on {host}:{port} within {START_TIMEOUT:g}s: {server.log_text()[-500:]}")
    if process.poll() is not None and "Address already in use" not in server.log_text():
        raise RuntimeError(f"sshd exited with {process.returncode}: {server.log_text()[-500:]}")
    return server


def stop(server: SshServer) -> None:
    """Stop the listener, then any connection child still serving a session (sshd puts each in its own session)."""
    try:
        children = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if server.process.poll() is None:
        try:
            os.killpg(server.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(children, timeout=10)
