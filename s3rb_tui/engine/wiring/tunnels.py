"""SSH bastion tunnels to MySQL and to the warehouse (sshtunnel over paramiko).

Rules: the server's host key is checked against ``SSH_KNOWN_HOSTS`` before authentication and
before any port is forwarded (an unknown or changed key is refused, never added); the local end
binds to 127.0.0.1 only; connect, banner, handshake and authentication each time out after
``BACKUP_TIMEOUT_SECONDS``; every thread is a daemon and every tunnel closes on exit.
``Tunnel.ensure()`` is the health check run before each table and between batches: a dropped
tunnel is reopened once, and a tunnel that cannot be reopened raises ``JobError``.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import logging
import os
import signal
import socket
import stat
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import paramiko
import sshtunnel

from s3rb_tui.engine.core.errors import ConfigError, JobError

Log = Callable[..., None]

# sshtunnel and paramiko log through `logging`; keep their records out of our one-line output.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
_SSHTUNNEL_LOGGER = logging.getLogger("s3rb_tui.sshtunnel")
_SSHTUNNEL_LOGGER.addHandler(logging.NullHandler())
_SSHTUNNEL_LOGGER.propagate = False


class HostKeyError(JobError):
    """The bastion's host key is unknown or differs from the one in known_hosts."""


@dataclass(frozen=True)
class TunnelConfig:
    which: str  # mysql | warehouse
    bastion_host: str
    bastion_port: int
    user: str
    key_path: Path
    known_hosts: Path
    remote_host: str
    remote_port: int
    local_port: int  # 0: pick a free port
    timeout: float

    @property
    def bastion(self) -> str:
        return f"{self.bastion_host}:{self.bastion_port}"

    @property
    def remote(self) -> str:
        return f"{self.remote_host}:{self.remote_port}"


def tunnel_config(settings, which: str) -> TunnelConfig | None:
    """The tunnel settings for ``mysql`` or ``warehouse``; None when that side has no bastion."""
    if which == "mysql":
        host = settings.str("SSH_BASTION_HOST")
        if not host:
            return None
        port, user, key = settings.int("SSH_BASTION_PORT"), settings.str("SSH_BASTION_USER"), settings.path("SSH_BASTION_KEY_PATH")
        remote_host, remote_port, local_port = settings.str("DB_HOST"), settings.int("DB_PORT"), settings.int("SSH_LOCAL_PORT")
        prefix = "SSH_BASTION"
    elif which == "warehouse":
        host = settings.str("REDSHIFT_SSH_BASTION_HOST")
        if not host:
            return None
        port = settings.int("REDSHIFT_SSH_BASTION_PORT")
        user = settings.str("REDSHIFT_SSH_BASTION_USER") or settings.str("SSH_BASTION_USER")
        key = settings.path("REDSHIFT_SSH_BASTION_KEY_PATH") or settings.path("SSH_BASTION_KEY_PATH")
        remote_host, remote_port, local_port = settings.str("REDSHIFT_HOST"), settings.int("REDSHIFT_PORT"), 0
        prefix = "REDSHIFT_SSH_BASTION"
        if not remote_host:
            raise ConfigError("REDSHIFT_SSH_BASTION_HOST is set but REDSHIFT_HOST is empty", "set REDSHIFT_HOST to the warehouse as seen from the bastion")
    else:
        raise ValueError(f"unknown tunnel side {which!r}")
    if not user:
        raise ConfigError(f"{prefix}_HOST is set but no bastion user is configured", f"set {prefix}_USER")
    if key is None:
        raise ConfigError(f"{prefix}_HOST is set but no private key is configured", f"set {prefix}_KEY_PATH (mode 600)")
    known_hosts = settings.path("SSH_KNOWN_HOSTS") or Path(os.path.expanduser("~/.ssh/known_hosts"))
    return TunnelConfig(
        which=which, bastion_host=host, bastion_port=port, user=user, key_path=key, known_hosts=known_hosts,
        remote_host=remote_host, remote_port=remote_port, local_port=local_port,
        timeout=float(settings.int("BACKUP_TIMEOUT_SECONDS")),
    )


# --- signals ----------------------------------------------------------------------------------
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals(how: int) -> Iterator[None]:
    """Block (or unblock) Ctrl+C and SIGTERM in this thread for a moment. Threads started while they
    are blocked inherit that mask, so the kernel delivers them to the main thread, whose blocking
    call they interrupt (a signal landing on a tunnel thread would leave the main thread waiting)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(how, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# --- host keys -------------------------------------------------------------------------------
def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, e.g. ``SHA256:nThbg6kX...``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _algorithms_for(key_type: str) -> list[str]:
    return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]


def _known_keys(cfg: TunnelConfig) -> dict[str, paramiko.PKey]:
    hostkeys = paramiko.HostKeys()
    if cfg.known_hosts.is_file():
        try:
            hostkeys.load(str(cfg.known_hosts))
        except (OSError, paramiko.SSHException) as e:
            raise ConfigError(f"cannot read SSH_KNOWN_HOSTS {cfg.known_hosts}: {e}", "fix or recreate the file") from None
    entry = hostkeys.lookup(known_hosts_name(cfg.bastion_host, cfg.bastion_port))
    return dict(entry) if entry else {}


def _add_hint(cfg: TunnelConfig) -> str:
    return (
        f"check the fingerprint with the bastion's administrator (out of band), then add it with: "
        f"ssh-keyscan -p {cfg.bastion_port} {cfg.bastion_host} >> {cfg.known_hosts}"
    )


def check_host_key(cfg: TunnelConfig, server_key: paramiko.PKey, known: dict[str, paramiko.PKey]) -> None:
    """Raise HostKeyError unless ``server_key`` is the one known_hosts lists for the bastion."""
    where = f"SSH bastion {cfg.bastion}"
    shown = f"{server_key.get_name()} {fingerprint(server_key)}"
    if not known:
        raise HostKeyError(f"host key of {where} is not in {cfg.known_hosts} (the server offers {shown}); refusing to connect", _add_hint(cfg))
    expected = known.get(server_key.get_name())
    if expected is None or expected.asbytes() != server_key.asbytes():
        listed = ", ".join(f"{k.get_name()} {fingerprint(k)}" for k in known.values())
        raise HostKeyError(
            f"host key of {where} has CHANGED: the server offers {shown} but {cfg.known_hosts} lists {listed}; refusing to connect",
            f"if the bastion's key was replaced on purpose, remove the old entry with "
            f"ssh-keygen -R '{known_hosts_name(cfg.bastion_host, cfg.bastion_port)}' -f {cfg.known_hosts}, then {_add_hint(cfg)}",
        )


# --- connecting --------------------------------------------------------------------------------
def load_private_key(path: Path, log: Log | None = None) -> paramiko.PKey:
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigError(f"SSH key file {path} cannot be read: {e.strerror}", "check SSH_BASTION_KEY_PATH") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and log is not None:
        log("SSH key file is accessible by group or others", level="warning", path=str(path), hint=f"run: chmod 600 {path}")
    try:
        return paramiko.PKey.from_path(str(path))
    except paramiko.PasswordRequiredException:
        raise ConfigError(f"SSH key file {path} is protected by a passphrase", "use a key without a passphrase for unattended runs") from None
    except (paramiko.SSHException, OSError, ValueError) as e:
        raise ConfigError(f"SSH key file {path} is not a usable private key: {e}", "point SSH_BASTION_KEY_PATH at an OpenSSH private key") from None


def _open_transport(cfg: TunnelConfig, key_types: list[str] | None) -> paramiko.Transport:
    """TCP connect and SSH handshake, each within the timeout. The caller checks the host key."""
    try:
        sock = socket.create_connection((cfg.bastion_host, cfg.bastion_port), timeout=cfg.timeout)
    except OSError as e:
        raise JobError(
            f"cannot reach SSH bastion {cfg.bastion}: {e.strerror or e}",
            "check SSH_BASTION_HOST/SSH_BASTION_PORT and that the bastion is up",
        ) from None
    transport = paramiko.Transport(sock)
    transport.daemon = True
    transport.banner_timeout = cfg.timeout
    transport.handshake_timeout = cfg.timeout
    transport.auth_timeout = cfg.timeout
    if key_types:
        transport.get_security_options().key_types = key_types
    done = threading.Event()
    try:
        with _signals(signal.SIG_BLOCK):  # the transport's thread never takes Ctrl+C
            transport.start_client(event=done)
        finished = done.wait(cfg.timeout + 1.0)
    except (paramiko.SSHException, OSError) as e:
        transport.close()
        raise JobError(f"SSH handshake with bastion {cfg.bastion} failed: {e}", "check that SSH_BASTION_PORT is an SSH server") from None
    if not finished or not transport.is_active():
        err = transport.get_exception()
        transport.close()
        if isinstance(err, paramiko.ssh_exception.IncompatiblePeer):
            raise err
        text = str(err) if err else f"no SSH handshake within {cfg.timeout:g}s"
        if err is None or "banner" in text.lower():
            text = f"no SSH banner/handshake within {cfg.timeout:g}s"
        raise JobError(
            f"SSH bastion {cfg.bastion} accepted the connection but the SSH handshake failed: {text}",
            "check that the port is the bastion's SSH port, or raise BACKUP_TIMEOUT_SECONDS",
        )
    return transport


def connect_verified(cfg: TunnelConfig, pkey: paramiko.PKey) -> paramiko.Transport:
    """An authenticated transport to the bastion whose host key matched known_hosts."""
    known = _known_keys(cfg)
    allowed = [alg for t in known for alg in _algorithms_for(t)]
    try:
        transport = _open_transport(cfg, allowed or None)
    except paramiko.ssh_exception.IncompatiblePeer:
        # The server has none of the key types known_hosts lists: fetch what it does offer to report it.
        probe = _open_transport(cfg, None)
        try:
            check_host_key(cfg, probe.get_remote_server_key(), known)
        finally:
            probe.close()
        raise JobError(f"SSH bastion {cfg.bastion} offers no host key type listed in {cfg.known_hosts}") from None
    try:
        check_host_key(cfg, transport.get_remote_server_key(), known)
        transport.auth_publickey(cfg.user, pkey)
    except paramiko.AuthenticationException as e:
        transport.close()
        raise JobError(
            f"SSH bastion {cfg.bastion} refused the key {cfg.key_path} for user {cfg.user!r}: {e}",
            "check the bastion user and that the public key is in its authorized_keys",
        ) from None
    except (paramiko.SSHException, OSError) as e:
        transport.close()
        raise JobError(f"SSH session with bastion {cfg.bastion} failed: {e}") from None
    except BaseException:
        transport.close()
        raise
    if not transport.is_authenticated():
        transport.close()
        raise JobError(f"SSH bastion {cfg.bastion} did not accept authentication for user {cfg.user!r}")
    return transport


class _Forwarder(sshtunnel.SSHTunnelForwarder):
    """SSHTunnelForwarder whose gateway connection is ours: timeouts and host-key verification."""

    daemon_forward_servers = True
    daemon_transport = True

    def __init__(self, cfg: TunnelConfig, pkey: paramiko.PKey, local_port: int):
        self._cfg = cfg
        self._pkey = pkey
        super().__init__(
            (cfg.bastion_host, cfg.bastion_port),
            ssh_username=cfg.user,
            ssh_pkey=pkey,
            ssh_config_file=None,
            allow_agent=False,
            host_pkey_directories=[],
            local_bind_address=("127.0.0.1", local_port),
            remote_bind_address=(cfg.remote_host, cfg.remote_port),
            logger=_SSHTUNNEL_LOGGER,
            set_keepalive=max(1.0, min(15.0, cfg.timeout / 3)),
        )

    def _connect_to_gateway(self) -> None:  # called by start()
        with _signals(signal.SIG_UNBLOCK):  # Ctrl+C still stops a slow connect
            self._transport = connect_verified(self._cfg, self._pkey)
        self._transport.set_keepalive(self.set_keepalive)


_OPEN: "weakref.WeakSet[Tunnel]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for t in list(_OPEN):
        t.close()


class Tunnel:
    """An open tunnel: connect to ``127.0.0.1:local_port`` to reach the remote database."""

    def __init__(self, cfg: TunnelConfig, log: Log | None = None):
        self.cfg = cfg
        self.which = cfg.which
        self._log = log or (lambda *a, **k: None)
        self._lock = threading.Lock()
        self._pkey = load_private_key(cfg.key_path, self._log)
        self._forwarder: _Forwarder | None = None
        self.local_port = 0
        self.reopened = 0
        self._start(cfg.local_port)
        _OPEN.add(self)

    def _start(self, local_port: int) -> None:
        forwarder = _Forwarder(self.cfg, self._pkey, local_port)
        try:
            with _signals(signal.SIG_BLOCK):  # the forwarding threads never take Ctrl+C
                forwarder.start()
        except sshtunnel.BaseSSHTunnelForwarderError as e:
            forwarder.stop(force=True)
            raise JobError(
                f"cannot forward 127.0.0.1:{local_port or '(free port)'} to {self.cfg.remote} through {self.cfg.bastion}: {e}",
                "check SSH_LOCAL_PORT is free (0 picks one)",
            ) from None
        except BaseException:
            forwarder.stop(force=True)
            raise
        self._forwarder = forwarder
        self.local_port = forwarder.local_bind_port
        self._log("SSH tunnel open", level="info", side=self.which, bastion=self.cfg.bastion,
                  remote=self.cfg.remote, local=f"127.0.0.1:{self.local_port}")

    @property
    def local_host(self) -> str:
        return "127.0.0.1"

    @property
    def transport(self) -> paramiko.Transport | None:
        f = self._forwarder
        return getattr(f, "_transport", None) if f is not None else None

    def is_alive(self) -> bool:
        """The SSH session is up and authenticated and the local listener is serving."""
        f = self._forwarder
        t = self.transport
        if f is None or t is None or not t.is_active() or not t.is_authenticated():
            return False
        try:
            t.send_ignore()  # a write on a dead connection fails now rather than mid-batch
        except (OSError, EOFError, paramiko.SSHException):
            return False
        return t.is_active() and any(f.tunnel_is_up.values())

    def ensure(self) -> None:
        """Health check: returns when the tunnel is usable; reopens a dropped one once; else JobError."""
        with self._lock:
            if self.is_alive():
                return
            self._log("SSH tunnel dropped; reopening", level="warning", side=self.which, bastion=self.cfg.bastion)
            old_port = self.local_port
            self._stop()
            try:
                try:
                    self._start(old_port or self.cfg.local_port)  # same port: the source's settings stay valid
                except JobError:
                    if self.cfg.local_port or not old_port:
                        raise
                    self._start(0)
            except JobError as e:
                raise JobError(f"SSH tunnel to {self.cfg.remote} through {self.cfg.bastion} dropped and could not be reopened: {e.message}", e.hint) from None
            self.reopened += 1
            if not self.is_alive():
                raise JobError(f"SSH tunnel to {self.cfg.remote} through {self.cfg.bastion} dropped and the reopened one is not usable")

    def round_trip_ms(self) -> float | None:
        """Latency of one SSH request/response to the bastion (None when the session is down)."""
        t = self.transport
        if t is None or not t.is_active():
            return None
        box: list[float] = []

        def ping() -> None:
            started = time.perf_counter()
            t.global_request("keepalive@openssh.com", wait=True)
            box.append((time.perf_counter() - started) * 1000.0)

        worker = threading.Thread(target=ping, daemon=True, name="s3rb-ssh-ping")
        with _signals(signal.SIG_BLOCK):
            worker.start()
        worker.join(self.cfg.timeout)
        return round(box[0], 1) if box else None

    def remote_version(self) -> str | None:
        t = self.transport
        return t.remote_version if t is not None else None

    def _stop(self) -> None:
        f, self._forwarder = self._forwarder, None
        if f is not None:
            try:
                f.stop(force=True)
            except Exception:
                pass

    def close(self) -> None:
        with self._lock:
            was_open = self._forwarder is not None
            self._stop()
        _OPEN.discard(self)
        if was_open:
            self._log("SSH tunnel closed", level="debug", side=self.which, bastion=self.cfg.bastion)

    def __enter__(self) -> "Tunnel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_tunnel_for(settings, which: str, log: Log | None = None) -> Tunnel | None:
    """Open the tunnel for ``mysql`` or ``warehouse``; None when no bastion is configured for it."""
    cfg = tunnel_config(settings, which)
    if cfg is None:
        return None
    return Tunnel(cfg, log=log)
