"""Django's Redis cache, made to degrade instead of fail: when Redis is unreachable (restarting,
failing over), every read is a miss and every write is skipped, so pages and the API fall back to
the database and keep serving. A warning is logged, at most once per LOG_EVERY seconds.

What the cache can then serve stale once Redis is back with its old data is bounded by the
entries' own lifetimes: an API token lookup REVOPS["TOKEN_CACHE_SECONDS"] (60 s), an automation's
card registry.cache.CARD_TTL (60 s). A Redis restarted without persistence comes back empty.
"""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
LOG_EVERY = 30.0


class ResilientRedisCache(RedisCache):
    _last_logged = 0.0

    def _degraded(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - ResilientRedisCache._last_logged >= LOG_EVERY:
            ResilientRedisCache._last_logged = now
            logger.warning(
                "cache unavailable, serving from the database (%s: %s: %s)", operation, type(exc).__name__, exc
            )

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except RedisError as exc:
            self._degraded("get", exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except RedisError as exc:
            self._degraded("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except RedisError as exc:
            self._degraded("has_key", exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set(key, value, timeout=timeout, version=version)
        except RedisError as exc:
            self._degraded("set", exc)
            return None

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout=timeout, version=version)
        except RedisError as exc:
            self._degraded("set_many", exc)
            return list(data)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout=timeout, version=version)
        except RedisError as exc:
            self._degraded("add", exc)
            return False

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout=timeout, version=version)
        except RedisError as exc:
            self._degraded("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except RedisError as exc:
            self._degraded("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except RedisError as exc:
            self._degraded("delete_many", exc)
            return None

    def incr(self, key, delta=1, version=None):
        # A counter that cannot be read is a missing one: callers already handle ValueError
        # (registry.cache re-seeds it, django-ratelimit lets the attempt through).
        try:
            return super().incr(key, delta, version)
        except RedisError as exc:
            self._degraded("incr", exc)
            raise ValueError(f"Key '{key}' unavailable: the cache is down") from exc

    def clear(self):
        """Remove this site's keys only. Django's RedisCache empties the whole Redis database,
        which may hold another site's (or another test process's) keys under another prefix."""
        if not self.key_prefix:
            try:
                return super().clear()
            except RedisError as exc:
                self._degraded("clear", exc)
                return False
        try:
            client = self._cache.get_client(write=True)
            batch = []
            for key in client.scan_iter(match=f"{self.key_prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch.clear()
            if batch:
                client.delete(*batch)
            return True
        except RedisError as exc:
            self._degraded("clear", exc)
            return False
