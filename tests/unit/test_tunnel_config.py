"""Which tunnel each side gets from the settings (pure logic: nothing connects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.wiring.tunnels import known_hosts_name, tunnel_config
from s3rb_tui.settings import build_settings

BASE = {"S3_BUCKET_NAME": "b", "DB_HOST": "db.internal", "DB_PORT": "3307", "BACKUP_TIMEOUT_SECONDS": "7"}
BASTION = {"SSH_BASTION_HOST": "bastion", "SSH_BASTION_PORT": "2222", "SSH_BASTION_USER": "ops",
           "SSH_BASTION_KEY_PATH": "/keys/ops", "SSH_KNOWN_HOSTS": "/etc/kh", "SSH_LOCAL_PORT": "13306"}


def test_no_bastion_no_tunnel():
    assert tunnel_config(build_settings(BASE), "mysql") is None
    assert tunnel_config(build_settings({**BASE, **BASTION}), "warehouse") is None  # not used for the warehouse unless asked


def test_mysql_tunnel_settings():
    cfg = tunnel_config(build_settings({**BASE, **BASTION}), "mysql")
    assert (cfg.bastion, cfg.user, cfg.key_path, cfg.known_hosts) == ("bastion:2222", "ops", Path("/keys/ops"), Path("/etc/kh"))
    assert (cfg.remote, cfg.local_port, cfg.timeout) == ("db.internal:3307", 13306, 7.0)


def test_warehouse_tunnel_falls_back_to_the_mysql_bastion_user_and_key():
    s = build_settings({**BASE, **BASTION, "REDSHIFT_SSH_BASTION_HOST": "rs-bastion", "REDSHIFT_HOST": "dw.internal"})
    cfg = tunnel_config(s, "warehouse")
    assert (cfg.bastion, cfg.user, cfg.key_path) == ("rs-bastion:22", "ops", Path("/keys/ops"))
    assert (cfg.remote, cfg.local_port) == ("dw.internal:5439", 0)
    own = build_settings({**BASE, **BASTION, "REDSHIFT_SSH_BASTION_HOST": "rs", "REDSHIFT_HOST": "dw",
                          "REDSHIFT_SSH_BASTION_USER": "dwops", "REDSHIFT_SSH_BASTION_KEY_PATH": "/keys/dw"})
    assert (tunnel_config(own, "warehouse").user, tunnel_config(own, "warehouse").key_path) == ("dwops", Path("/keys/dw"))


@pytest.mark.parametrize("values, message", [
    ({"REDSHIFT_SSH_BASTION_HOST": "rs"}, "REDSHIFT_HOST is empty"),
    ({"REDSHIFT_SSH_BASTION_HOST": "rs", "REDSHIFT_HOST": "dw", "SSH_BASTION_KEY_PATH": "", "SSH_BASTION_USER": "ops"}, "no private key"),
    ({"REDSHIFT_SSH_BASTION_HOST": "rs", "REDSHIFT_HOST": "dw"}, "no bastion user"),
])
def test_incomplete_warehouse_bastion_is_a_config_error(values, message):
    with pytest.raises(ConfigError, match=message):
        tunnel_config(build_settings({**BASE, **values}), "warehouse")


def test_known_hosts_names_follow_openssh():
    assert known_hosts_name("bastion", 22) == "bastion"
    assert known_hosts_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"
