"""Persistence: the telemetry store (DuckDB) and the state store (SQLite or PostgreSQL)."""
