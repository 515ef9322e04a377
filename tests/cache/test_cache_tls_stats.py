"""rediss:// for real (throwaway certificate, redis-server --tls-port) and cache-stats' hit rate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import redis

from tests.cache.cache_helpers import Cli
from tests.cache.cache_servers import Servers, server_version
from tests.support import free_port
from vendzz_migrate.errors import ExitCode


@pytest.fixture
def tls_url(servers: Servers, tmp_path: Path) -> tuple[str, Path]:
    """A TLS-only redis-server with a self-signed certificate; returns (rediss URL, CA file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not installed: cannot make a throwaway certificate")
    if server_version() < (6,):
        pytest.skip("redis-server older than 6 has no TLS")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    tls = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
           "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
           "--tls-auth-clients", "no"]  # fmt: skip
    try:
        servers.start(*tls, ping_url=url)
    except RuntimeError:
        pytest.skip("this redis-server build has no TLS support (--tls-port refused)")
    return url, cert


def test_rediss_url_warms_over_tls(cli: Cli, tls_url: tuple[str, Path]) -> None:
    url, _ = tls_url
    code, _, err = cli("warm-cache", "--redis", url)
    assert code == 0, err
    client = redis.Redis.from_url(url)
    assert client.hget("vendzz:plan:premium", "price") == b"49.90"
    assert client.dbsize() > 500
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"


def test_untrusted_certificate_is_a_connection_error(cli: Cli, tls_url: tuple[str, Path]) -> None:
    url, _ = tls_url
    code, _, err = cli("warm-cache", "--redis", url.split("?")[0])
    assert code == ExitCode.CONNECTION
    assert "certificate verify failed" in err and len(err.strip().splitlines()) == 1


def test_cache_stats_hit_rate_against_the_target(
    cli: Cli, servers: Servers, tmp_path: Path
) -> None:
    url = servers.standalone()  # INFO stats are server-wide: a server of our own
    assert cli("warm-cache", "--redis", url, "--only", "plan,quiz")[0] == 0
    client = redis.Redis.from_url(url)
    code, out, _ = cli("cache-stats", "--redis", url)
    assert code == 0 and "hit rate n/a (0 hits, 0 misses)" in out and "no traffic" in out
    for n in range(1, 21):  # q00001..q00020: 16 published (hits), 4 unpublished (misses)
        client.get(f"vendzz:quiz:q{n:05d}")
    client.hget("vendzz:plan:premium", "limits")  # hit
    client.hget("vendzz:plan:legacy", "limits")  # miss (inactive plan)
    code, out, _ = cli("cache-stats", "--redis", url)
    assert code == 0
    assert "hit rate 77.3% (17 hits, 5 misses) - target 85%: below target" in out
    for _ in range(20):
        client.exists("vendzz:plan:free")
    path = tmp_path / "stats.json"
    code, out, _ = cli("cache-stats", "--redis", url, "--json", str(path))
    report = json.loads(path.read_text())
    assert (report["hits"], report["misses"], report["status"]) == (37, 5, "ok")
    assert report["hit_rate"] == pytest.approx(37 / 42) and report["target"] == 0.85
    assert report["nodes"][0]["keys"] == client.dbsize()
    assert "target 85%: ok" in out
