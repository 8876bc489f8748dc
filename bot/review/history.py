"""What each category's past inputs looked like, for the pipeline's out-of-distribution check.

Summaries are computed from the ledger's most recent proposals of a category and cached in Redis
for a few minutes, so every worker (and every forked job) shares one computation.
"""

from __future__ import annotations

from bot.runtime import Runtime
from bot.store import queries
from scoring.signals import CategoryStats

WINDOW = 1000
CACHE_SECONDS = 600


def category_history(runtime: Runtime, category: str) -> CategoryStats:
    """The robust size summary of the category's last WINDOW inputs (cached)."""
    key = f"handoff:stats:{category}"
    cached = runtime.redis.get(key)
    if cached:
        return CategoryStats.model_validate_json(cached)
    stats = CategoryStats.from_inputs(queries.recent_inputs(runtime.ledger, category, limit=WINDOW))
    runtime.redis.set(key, stats.model_dump_json(), ex=CACHE_SECONDS)
    return stats
