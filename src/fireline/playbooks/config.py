"""The `playbooks` section of the configuration file: where the user's own playbooks are."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class PlaybookSettings(BaseModel):
    """Settings of this area; every one has a default, so no file is needed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A directory of playbook files (*.yaml): they are added to the built-in playbooks, and
    #: one with the id of a built-in replaces it. Relative to the working directory, as
    #: `notifications.templates_dir` is.
    dir: Path | None = None
