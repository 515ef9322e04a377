"""Bad input through the CLI: one line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

import json
import re

import redis

from tests.cache.cache_helpers import Cli
from tests.cache.cache_servers import Servers
from tests.support import free_port
from vendzz_migrate.cache import load_spec
from vendzz_migrate.cache.spec import parse_template
from vendzz_migrate.errors import ExitCode

PASSWORD = "s3cret-pw"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def spec_file(tmp_path: object, body: str) -> str:
    path = tmp_path / "spec.yaml"  # type: ignore[operator]
    path.write_text("version: 1\ncaches:\n" + body)
    return str(path)


def test_unreachable_redis(cli: Cli) -> None:
    code, _, err = cli("warm-cache", "--redis", f"redis://127.0.0.1:{free_port()}/0")
    assert code == ExitCode.CONNECTION
    assert "cannot reach Redis at redis://127.0.0.1:" in one_line(err)


def test_unreachable_postgres(cli: Cli) -> None:
    code, _, err = cli("warm-cache", "--target", f"postgresql://u:pw@127.0.0.1:{free_port()}/x")
    assert code == ExitCode.CONNECTION
    line = one_line(err)
    assert "cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:" in line
    assert ":pw@" not in line


def test_wrong_and_missing_redis_password(cli: Cli, servers: Servers) -> None:
    url = servers.standalone(password=PASSWORD)
    code, _, err = cli("warm-cache", "--redis", url.replace("//", "//:wrong@"))
    assert code == ExitCode.CONNECTION
    line = one_line(err)
    assert "Redis authentication failed at redis://:***@127.0.0.1" in line
    assert "wrong" not in line.split("failed at")[1].split(" ")[1]
    code, _, err = cli("warm-cache", "--redis", url)
    assert code == ExitCode.CONNECTION
    assert "authentication failed" in one_line(err)
    code, _, err = cli(
        "warm-cache", "--only", "plan", "--redis", url.replace("//", f"//:{PASSWORD}@")
    )
    assert code == 0, err


def test_unknown_spec_field_is_named(cli: Cli, tmp_path: object) -> None:
    spec = spec_file(
        tmp_path, "  - name: q\n    key: 'q:{id}'\n    query: SELECT 1 AS id\n    tll_s: 5\n"
    )
    code, _, err = cli("warm-cache", "--spec", spec)
    assert code == ExitCode.CONFIG
    assert "unknown field 'tll_s' at caches[0].tll_s (cache 'q')" in one_line(err)


def test_key_template_naming_a_missing_column_writes_nothing(
    cli: Cli, tmp_path: object, redis_url: str
) -> None:
    body = (
        "  - name: plan\n    key: 'p:{id}'\n    query: SELECT * FROM subscription_plans\n"
        '  - name: quiz\n    key: \'q:{quiz_id}\'\n    query: SELECT "id", "title" FROM quizzes\n'
    )
    code, _, err = cli("warm-cache", "--spec", spec_file(tmp_path, body))
    assert code == ExitCode.CONFIG
    line = one_line(err)
    assert (
        "cache 'quiz': key template names column 'quiz_id' that the query does not return" in line
    )
    assert "(it returns: id, title)" in line
    assert redis.Redis.from_url(redis_url).dbsize() == 0  # checked before writing anything


def test_query_errors(cli: Cli, tmp_path: object) -> None:
    bad_sql = "  - name: q\n    key: 'q:{id}'\n    query: SELEC id FROM quizzes\n"
    code, _, err = cli("warm-cache", "--spec", spec_file(tmp_path, bad_sql))
    assert code == ExitCode.CONFIG
    assert "cache 'q': query failed: syntax error" in one_line(err)
    no_table = "  - name: q\n    key: 'q:{id}'\n    query: SELECT * FROM nope\n"
    code, _, err = cli("warm-cache", "--spec", spec_file(tmp_path, no_table))
    assert code == ExitCode.CONFIG
    assert 'relation "nope" does not exist' in one_line(err)
    writes = "  - name: q\n    key: 'q:{id}'\n    query: DELETE FROM quizzes RETURNING id\n"
    code, _, err = cli("warm-cache", "--spec", spec_file(tmp_path, writes))
    assert code == ExitCode.CONFIG  # the session is read-only: a spec cannot change data
    assert "query failed" in one_line(err)


def test_bad_ttl_column_type_is_a_query_error(cli: Cli, tmp_path: object) -> None:
    body = "  - name: q\n    key: 'q:{id}'\n    query: SELECT id, title FROM quizzes\n"
    body += "    ttl_column: title\n"
    code, _, err = cli("warm-cache", "--spec", spec_file(tmp_path, body))
    assert code == ExitCode.CONFIG
    assert "invalid input syntax for type bigint" in one_line(err)


def test_unknown_only_and_missing_urls(cli: Cli) -> None:
    code, _, err = cli("warm-cache", "--only", "quiz,nope")
    assert code == ExitCode.CONFIG
    assert "unknown cache 'nope' in --only" in one_line(err)
    code, _, err = cli("warm-cache", DATABASE_URL="")
    assert code == ExitCode.CONFIG
    assert "no PostgreSQL URL" in one_line(err)
    code, _, err = cli("cache-stats", REDIS_URL="")
    assert code == ExitCode.CONFIG
    assert "no Redis URL" in one_line(err)


def test_not_enough_memory_is_refused_before_writing(cli: Cli, servers: Servers) -> None:
    url = servers.standalone("--maxmemory-policy", "noeviction")
    client = redis.Redis.from_url(url)
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 20_000)
    code, _, err = cli("warm-cache", "--redis", url)
    assert code == ExitCode.CAPACITY
    assert "nothing was written" in one_line(err)
    assert client.dbsize() == 0


def test_oom_stops_cleanly_and_reports_progress(cli: Cli, servers: Servers) -> None:
    url = servers.standalone("--maxmemory-policy", "noeviction")
    client = redis.Redis.from_url(url)
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 150_000)
    code, _, err = cli("-q", "warm-cache", "--redis", url, "--skip-memory-check")
    assert code == ExitCode.CAPACITY
    found = re.search(r"out of memory \(OOM\) while warming cache '([\w-]+)': ([\d,]+) of ([\d,]+) "
                      r"keys written", one_line(err))  # fmt: skip
    assert found, err
    name, written, total = found[1], int(found[2].replace(",", "")), int(found[3].replace(",", ""))
    assert 0 < written < total
    template = next(c for c in load_spec(None).caches if c.name == name).key
    regex = parse_template(template).regex()
    assert sum(1 for k in client.scan_iter() if regex.match(k.decode())) == written
    assert all(client.ttl(k) > 0 for k in client.scan_iter())  # no key left without a TTL
    client.config_set("maxmemory", "0")
    code, _, err = cli("warm-cache", "--redis", url)  # rerun after freeing memory: completes
    assert code == 0, err


def test_keys_redis_rejects_are_counted_and_fail_the_run(
    cli: Cli, tmp_path: object, redis_url: str
) -> None:
    body = (
        "  - name: q\n    key: 'q:{id}'\n    ttl_column: ttl\n    query: |\n"
        "      SELECT id, CASE WHEN id = 'q00003' THEN 9223372036854775807 ELSE 60 END AS ttl\n"
        "      FROM quizzes\n"
    )
    path = tmp_path / "r.json"  # type: ignore[operator]
    code, _, err = cli("-q", "warm-cache", "--spec", spec_file(tmp_path, body), "--json", str(path))
    assert code == ExitCode.TARGET
    assert "1 keys were not written (cache 'q', first error: q:q00003: ERR invalid expire" in err
    assert "Traceback" not in err
    report = json.loads(path.read_text())  # type: ignore[attr-defined]
    assert (report["caches"][0]["keys"], report["caches"][0]["errors"]) == (249, 1)
    assert redis.Redis.from_url(redis_url).dbsize() == 249


def test_acl_user_without_write_permission(cli: Cli, servers: Servers) -> None:
    url = servers.standalone()
    redis.Redis.from_url(url).acl_setuser(
        "warm", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-set"]
    )
    code, _, err = cli(
        "-q", "warm-cache", "--only", "quiz", "--redis", url.replace("//", "//warm:pw@")
    )
    assert code == ExitCode.PERMISSION
    assert "refused to write 'vendzz:quiz:" in one_line(err)
    assert "NOPERM" in err
