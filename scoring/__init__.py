"""handoff's functional core: models, signals, the confidence pipeline, policy and statistics.

Nothing here performs I/O, reads the environment or the clock; callers pass `now`.
"""
