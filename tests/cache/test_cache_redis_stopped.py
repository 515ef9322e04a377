"""Redis stopped in the middle of warm-cache (issue #11): exit 5 with how far it got."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import redis

from tests.cache.cache_servers import Servers
from vendzz_migrate.cache import WarmOptions, load_spec, warm
from vendzz_migrate.errors import ConnectionFailed
from vendzz_migrate.events import Event
from vendzz_migrate.settings import Settings

SPEC = """version: 1
client: {retry_delay_ms: 1, max_retries: 1}
defaults: {ttl_s: 3600, jitter_s: 0, batch_size: 500}
caches:
  - name: many
    key: "vzt:many:{id}"
    query: "SELECT g AS id, 'value ' || g AS v FROM generate_series(1, 20000) g"
    encoding: text
    fields: [v]
"""


class StopsRedis:
    """An event sink that stops Redis (SHUTDOWN NOSAVE) once the first keys are in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.advanced = 0

    def __call__(self, event: Event) -> None:
        if event.kind != "progress" or event.fields["action"] != "advance":
            return
        n = int(event.fields["n"])
        first = self.advanced == 0 and n > 0
        self.advanced += n
        if first:  # the server closes the connection as it stops
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis.from_url(self.url).shutdown(nosave=True)


def test_redis_stopped_mid_warm_says_how_far_it_got(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.standalone()
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(SPEC)
    progress = StopsRedis(url)
    with pytest.raises(ConnectionFailed) as caught:
        warm(
            WarmOptions.from_settings(
                Settings(database_url=pg_url, redis_url=url),
                spec=load_spec(spec_path),
                check_memory=False,
            ),
            progress,
        )
    message = str(caught.value)
    assert "cannot reach Redis" in message
    assert "cache 'many':" in message and "keys written" in message
    assert f"{caught.value.data['keys_written']:,} of 20,000 keys written" in message
    assert 0 < caught.value.data["keys_written"] < 20_000
