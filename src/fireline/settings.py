"""Where fireline keeps its data and how often it looks: resolved from flags, then environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fireline.store.state import sqlite_url

DATA_DIR_ENV = "FIRELINE_DATA_DIR"
STATE_URL_ENV = "FIRELINE_STATE_URL"
CONFIG_ENV = "FIRELINE_CONFIG"
DEFAULT_DATA_DIR = Path(".fireline")


@dataclass(frozen=True, slots=True)
class Settings:
    """Deployment settings; every field has a default that works on one machine."""

    data_dir: Path = DEFAULT_DATA_DIR
    state_url: str | None = None
    config_path: Path | None = None
    lateness_s: int = 30

    @classmethod
    def resolve(
        cls,
        data_dir: Path | None = None,
        state_url: str | None = None,
        config_path: Path | None = None,
    ) -> Settings:
        """Flags win over environment variables, which win over defaults."""
        env_dir = os.environ.get(DATA_DIR_ENV)
        env_config = os.environ.get(CONFIG_ENV)
        return cls(
            data_dir=data_dir or (Path(env_dir) if env_dir else DEFAULT_DATA_DIR),
            state_url=state_url or os.environ.get(STATE_URL_ENV) or None,
            config_path=config_path or (Path(env_config) if env_config else None),
        )

    @property
    def telemetry_path(self) -> Path:
        return self.data_dir / "telemetry.duckdb"

    @property
    def resolved_state_url(self) -> str:
        return self.state_url or sqlite_url(self.data_dir / "state.db")
