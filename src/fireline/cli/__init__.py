"""The `fireline` command line."""

# Importing the command modules registers their commands on `app`.
from fireline.cli import (
    admin,
    drills,
    evals,
    incidents,
    ingest,
    investigation,
    learning,
    notify,
    oncall,
    playbooks,
    respond,
    reviews,
    scans,
    status,
)
from fireline.cli._app import app, main

__all__ = [
    "admin",
    "app",
    "drills",
    "evals",
    "incidents",
    "ingest",
    "investigation",
    "learning",
    "main",
    "notify",
    "oncall",
    "playbooks",
    "respond",
    "reviews",
    "scans",
    "status",
]
