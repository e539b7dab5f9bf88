"""Post-incident learning: response metrics, action items and the post-incident review draft.

The modules here are pure functions over domain values (no I/O); `fireline.learn.store` is
the one adapter that reads and writes the state store, and `fireline.learn.service` joins
the two for the API and the command line.
"""
