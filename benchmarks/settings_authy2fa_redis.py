"""Configuration B with a shared Redis cache, as docs/deployment.md recommends.

The other configurations use the per-process local-memory cache; they do not
read the cache on the hot path, so only this app pays for the round trip.
"""

import os

from .settings_authy2fa import *  # noqa: F403

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
        # A prefix per run: every run builds a new database whose users reuse
        # the ids of the last run's, and an entry cached by that run (it lives
        # ten minutes) would hold another database's 2FA version.
        "KEY_PREFIX": "authy2fa-bench-" + os.environ.get("BENCH_RUN_ID", "manual"),
    }
}
