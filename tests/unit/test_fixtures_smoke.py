"""Pure-logic checks of the test-support helpers behind tests/conftest.py."""

from __future__ import annotations

import re
import socket

import pytest

from tests.support import mariadb
from tests.support.availability import unavailable
from tests.support.naming import unique_name
from tests.support.waiting import Timeout, free_port, port_open, wait_until


def test_unique_names_are_distinct_and_legal_identifiers():
    names = {unique_name("s3rbt", "test_backup[rental-Ü x]", max_len=64) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert len(name) <= 64
        assert re.fullmatch(r"[a-z0-9_]+", name)


def test_bucket_names_follow_s3_rules():
    name = unique_name("s3rbt", "test_" + "x" * 200, max_len=63, sep="-")
    assert 3 <= len(name) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name)


def test_wait_until_returns_the_value_and_times_out():
    calls = iter([0, 0, 7])
    assert wait_until(lambda: next(calls), timeout=5, what="third call") == 7
    with pytest.raises(Timeout, match="never true"):
        wait_until(lambda: False, timeout=0.2, what="never true")


def test_free_port_is_bindable_and_closed():
    port = free_port()
    assert not port_open("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_sakila_script_targets_the_given_database_only():
    script = mariadb.sakila_script("s3rbt_copy_1")
    assert "USE `s3rbt_copy_1`;" in script
    assert not re.search(r"^(USE|CREATE SCHEMA|DROP SCHEMA IF EXISTS) sakila;", script, flags=re.M)
    assert not re.search(r"\bsakila\.", script)
    assert "DELIMITER" in script  # triggers and routines stay in (the mariadb client handles them)


def test_missing_service_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nothing on 1"):
        unavailable("nothing on 1")


def test_missing_service_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nothing on 1"):
        unavailable("nothing on 1")
