"""Pure-logic checks of the test-support helpers behind tests/support/services.py."""

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


SCHEMA_SAMPLE = """SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='TRADITIONAL';
DROP SCHEMA IF EXISTS sakila;
CREATE SCHEMA sakila;
USE sakila;
CREATE VIEW v AS SELECT * FROM sakila.film f INNER JOIN sakila.film_actor fa USING (film_id);
DELIMITER ;;
CREATE TRIGGER t AFTER INSERT ON film FOR EACH ROW BEGIN SET @x = 1; END;;
DELIMITER ;
"""
DATA_SAMPLE = """USE sakila;
INSERT INTO customer VALUES (1,1,'MARY','SMITH','MARY.SMITH@sakilacustomer.org');
"""


def test_sakila_script_targets_the_given_database_only():
    script = mariadb.retarget_sakila(SCHEMA_SAMPLE, DATA_SAMPLE, "s3rbt_copy_1")
    assert script.count("USE `s3rbt_copy_1`;") == 2
    assert "CREATE SCHEMA `s3rbt_copy_1`" in script and "DROP SCHEMA IF EXISTS `s3rbt_copy_1`;" in script
    assert "FROM `s3rbt_copy_1`.film f INNER JOIN `s3rbt_copy_1`.film_actor" in script
    assert not re.search(r"\bsakila\b", script)
    assert "MARY.SMITH@sakilacustomer.org" in script  # data mentioning the word is left alone
    assert "DELIMITER ;;" in script  # triggers and routines stay in (the mariadb client handles them)


def test_sakila_dir_override_must_hold_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setenv("S3RB_TEST_SAKILA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="S3RB_TEST_SAKILA_DIR"):
        mariadb.sakila_dir()


def test_missing_service_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nothing on 1"):
        unavailable("nothing on 1")


def test_missing_service_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nothing on 1"):
        unavailable("nothing on 1")
