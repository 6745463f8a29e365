"""The Redis cache degrades to misses when Redis is down, and works normally when it is up."""

import logging

import pytest

from revops_gov import cache_backends
from revops_gov.cache_backends import ResilientRedisCache
from tests.processes import RedisServer, free_port


def _cache(port: int) -> ResilientRedisCache:
    return ResilientRedisCache(
        f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )


def test_with_redis_down_reads_miss_writes_are_skipped_and_it_is_logged(caplog, monkeypatch):
    monkeypatch.setattr(ResilientRedisCache, "_last_logged", 0.0)
    monkeypatch.setattr(cache_backends, "LOG_EVERY", 0.0)
    cache = _cache(free_port())  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="revops_gov.cache_backends"):
        assert cache.get("k", "fallback") == "fallback"
        assert cache.get_many(["a", "b"]) == {}
        assert cache.has_key("k") is False
        cache.set("k", 1)
        assert cache.set_many({"a": 1}) == ["a"]
        assert cache.add("k", 1) is False
        assert cache.touch("k") is False
        assert cache.delete("k") is False
        cache.delete_many(["a"])
        assert cache.get_or_set("k", lambda: "computed") == "computed"
        with pytest.raises(ValueError, match="cache is down"):
            cache.incr("counter")
        cache.clear()
    assert "cache unavailable, serving from the database" in caplog.text


@pytest.mark.faults
def test_with_redis_up_it_is_the_plain_redis_cache(tmp_path):
    server = RedisServer(free_port(), tmp_path).start()
    try:
        cache = _cache(server.port)
        cache.set("k", {"v": 1}, 30)
        assert cache.get("k") == {"v": 1}
        assert cache.add("k", 2) is False
        cache.set("n", 1)
        assert cache.incr("n") == 2
        with pytest.raises(ValueError):
            cache.incr("missing")
    finally:
        server.kill()
