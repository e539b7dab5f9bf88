"""Persistence: the telemetry store (DuckDB) and the state store (SQLAlchemy: SQLite or PostgreSQL)."""
