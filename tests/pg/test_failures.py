"""pg.classify and pg.retryable on errors provoked on real PostgreSQL servers: each SQLSTATE
class lands in the documented error (and exit code), and only transient failures are retried."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.pg_cluster import Cluster, remove, start_cluster
from tests.support import free_port
from vendzz_migrate import pg
from vendzz_migrate.errors import (
    CapacityError,
    ConnectionFailed,
    ExitCode,
    PermissionDenied,
    TargetError,
    VendzzError,
)

PASSWORD = "right-password"


def as_user(url: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{user}:{password}@" if password else f"{user}@"
    netloc += parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def failure(url: str) -> psycopg.Error:
    """The raw error of a plain psycopg connection attempt (what pg.connect classifies)."""
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"connected to {url}")


def refused(url: str) -> VendzzError:
    with pytest.raises(VendzzError) as caught:
        pg.connect(url, command="test", timeout_s=5)
    return caught.value


@pytest.fixture(scope="module")
def scram() -> Iterator[Cluster]:
    """A throwaway server that checks passwords (the shared one trusts 127.0.0.1)."""
    cluster = start_cluster("log_min_messages=fatal", password=PASSWORD)
    yield cluster
    remove(cluster)


def log_count(cluster: Cluster, text: str) -> int:
    return (cluster.data / "log").read_text(errors="replace").count(text)


@pytest.fixture
def role(pg_server_url: str) -> Iterator[str]:
    """A login role of this test only (no privileges), dropped after."""
    name = f"vzt_role_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_bad_password_is_authentication_never_retried(scram: Cluster) -> None:
    url = scram.url.replace(PASSWORD, "wrong-password")
    raw = failure(url)
    assert pg.sqlstate(raw) is None  # libpq: the message is all there is
    assert not pg.retryable(raw)
    before = log_count(scram, "password authentication failed")
    err = refused(url)
    assert isinstance(err, ConnectionFailed) and err.exit_code == ExitCode.CONNECTION
    assert str(err).startswith("authentication failed (postgresql://postgres:***@127.0.0.1:")
    assert "wrong-password" not in str(err)
    assert log_count(scram, "password authentication failed") == before + 1  # one attempt only


def test_missing_password_is_authentication(
    scram: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    err = refused(scram.url.replace(f":{PASSWORD}", ""))
    assert isinstance(err, ConnectionFailed)
    assert str(err).startswith("authentication failed"), err


def test_unknown_database_is_not_retried(scram: Cluster) -> None:
    url = scram.url.rsplit("/", 1)[0] + "/no_such_db"
    assert not pg.retryable(failure(url))
    before = log_count(scram, 'database "no_such_db" does not exist')
    err = refused(url)
    assert isinstance(err, ConnectionFailed) and "cannot reach PostgreSQL" in str(err)
    assert 'database "no_such_db" does not exist' in str(err)
    assert log_count(scram, 'database "no_such_db" does not exist') == before + 1


def test_connection_refused_is_retried() -> None:
    url = f"postgresql://u:secret@127.0.0.1:{free_port()}/x"
    raw = failure(url)
    assert pg.sqlstate(raw) is None and pg.retryable(raw)
    err = refused(url)
    assert isinstance(err, ConnectionFailed) and err.exit_code == ExitCode.CONNECTION
    assert str(err).startswith("cannot reach PostgreSQL (postgresql://u:***@127.0.0.1:"), err
    assert err.data["sqlstate"] is None and "Connection refused" in err.data["reason"]


def test_no_free_connection_slot_is_retried(pg_url: str, pg_server_url: str, role: str) -> None:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')  # 53300, before any SQLSTATE
    url = as_user(pg_url, role)
    raw = failure(url)
    assert "too many connections" in str(raw) and pg.retryable(raw)
    err = pg.classify(raw, url)
    assert isinstance(err, ConnectionFailed) and "cannot reach PostgreSQL" in str(err)


def test_permission_denied(pg_url: str, role: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE secret (x int)")
    with (
        pg.connect(as_user(pg_url, role), command="test") as conn,
        pytest.raises(psycopg.Error) as caught,
    ):
        conn.execute("SELECT * FROM secret")
    assert pg.sqlstate(caught.value) == "42501" and not pg.retryable(caught.value)
    err = pg.classify(caught.value)
    assert isinstance(err, PermissionDenied) and err.exit_code == ExitCode.PERMISSION
    assert str(err) == "PostgreSQL refused: permission denied for table secret"


def test_admin_shutdown_ends_the_connection_and_is_retried(pg_url: str) -> None:
    conn = pg.connect(pg_url, command="test", autocommit=True)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
    with pytest.raises(psycopg.OperationalError) as caught:
        conn.execute("SELECT 1")
    conn.close()
    assert pg.sqlstate(caught.value) == "57P01"
    assert pg.retryable(caught.value)
    err = pg.classify(caught.value, pg_url)
    assert isinstance(err, ConnectionFailed)
    assert str(err).startswith("PostgreSQL ended the connection (postgresql://"), err


def test_statement_timeout_is_a_target_error_not_a_lost_connection(pg_url: str) -> None:
    with pg.connect(pg_url, command="test", autocommit=True) as conn:
        conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.OperationalError) as caught:
            conn.execute("SELECT pg_sleep(5)")
    assert pg.sqlstate(caught.value) == "57014" and not pg.retryable(caught.value)
    err = pg.classify(caught.value)
    assert isinstance(err, TargetError) and err.exit_code == ExitCode.TARGET


def test_insufficient_resources_is_capacity(pg_url: str) -> None:
    with pg.connect(pg_url, command="test", autocommit=True) as conn:
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET temp_file_limit = '64kB'")  # a sort spilling past it: 53400
        with pytest.raises(psycopg.OperationalError) as caught:
            conn.execute(
                "SELECT count(*) FROM"
                " (SELECT g FROM generate_series(1, 300000) g ORDER BY g DESC) s"
            )
    assert pg.sqlstate(caught.value) == "53400" and not pg.retryable(caught.value)
    err = pg.classify(caught.value)
    assert isinstance(err, CapacityError) and err.exit_code == ExitCode.CAPACITY


def test_statement_errors_are_target_errors(pg_url: str) -> None:
    with pg.connect(pg_url, command="test", autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        for statement, state in (
            ("INSERT INTO t VALUES (1)", "23505"),
            ("SELECT * FROM nope", "42P01"),
        ):
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(statement)
            assert pg.sqlstate(caught.value) == state and not pg.retryable(caught.value)
            err = pg.classify(caught.value)
            assert isinstance(err, TargetError) and err.exit_code == ExitCode.TARGET
            assert err.data["sqlstate"] == state


@pytest.mark.parametrize(
    ("exc", "kind", "retried"),
    [
        # SQLSTATEs a test server cannot be made to raise on demand (or that libpq reports
        # without one at connection time): the exception classes psycopg raises for them
        (psycopg.errors.DiskFull("could not extend file"), CapacityError, False),
        (psycopg.errors.OutOfMemory("out of memory"), CapacityError, False),
        (psycopg.errors.CrashShutdown("terminating connection"), ConnectionFailed, True),
        (
            psycopg.errors.CannotConnectNow("the database system is starting up"),
            ConnectionFailed,
            True,
        ),
        (psycopg.errors.TooManyConnections("sorry, too many clients"), ConnectionFailed, True),
        (psycopg.errors.InvalidPassword("password authentication failed"), ConnectionFailed, False),
        (psycopg.errors.ProtocolViolation("bad message"), ConnectionFailed, True),
    ],
)
def test_the_documented_table(exc: psycopg.Error, kind: type[VendzzError], retried: bool) -> None:
    assert isinstance(pg.classify(exc), kind)
    assert pg.retryable(exc) is retried
