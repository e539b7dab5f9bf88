"""The `notifications` section of fireline.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NotifySettings(BaseModel):
    """Settings of this area; every one has a default, so no file is needed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
