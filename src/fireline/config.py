"""The deployment configuration file (`fireline.yaml`), with errors that give file and line.

Every section has defaults, so a deployment needs no file at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fireline.contain.config import Containment
from fireline.detect.config import Detection
from fireline.errors import ConfigError
from fireline.notify.config import NotifySettings
from fireline.oncall.config import OnCallSettings
from fireline.playbooks.config import PlaybookSettings
from fireline.scan.config import Scanning
from fireline.status.config import StatusSettings
from fireline.triage.policy import Triage

CONFIG_FILE_NAME = "fireline.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Section):
    """What a model costs, in US dollars per million tokens."""

    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]


class Redaction(_Section):
    """What is hidden before a call is stored."""

    #: Replace user ids with a keyed hash (HMAC-SHA256), so users can be counted, not named.
    hash_user_ids: bool = True
    #: What to do with personal data found in prompt and response text.
    pii: Literal["mask", "drop", "keep"] = "mask"


class Otlp(_Section):
    """The OpenTelemetry receiver."""

    #: Store spans that carry no gen_ai.* attribute too (as calls of their service).
    keep_non_genai: bool = False


class Ingest(_Section):
    #: Prices by model name; a model matches its longest listed prefix ("gpt-4o" prices
    #: "gpt-4o-2024-08-06"). Used when a call arrives without cost_usd.
    prices: dict[str, Price] = Field(default_factory=dict)
    redaction: Redaction = Field(default_factory=Redaction)
    otlp: Otlp = Field(default_factory=Otlp)


class Alertmanager(_Section):
    """The Prometheus Alertmanager webhook receiver."""

    #: The alert label that names the fireline feature an alert is about.
    feature_label: str = "feature"


class Config(_Section):
    """A whole deployment's configuration."""

    ingest: Ingest = Field(default_factory=Ingest)
    alertmanager: Alertmanager = Field(default_factory=Alertmanager)
    detection: Detection = Field(default_factory=Detection)
    scanners: Scanning = Field(default_factory=Scanning)
    triage: Triage = Field(default_factory=Triage)
    containment: Containment = Field(default_factory=Containment)
    oncall: OnCallSettings = Field(default_factory=OnCallSettings)
    notifications: NotifySettings = Field(default_factory=NotifySettings)
    status: StatusSettings = Field(default_factory=StatusSettings)
    playbooks: PlaybookSettings = Field(default_factory=PlaybookSettings)


def load_config(path: Path) -> Config:
    """Read and validate `path`; raise ConfigError naming the file, the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), None, f"cannot read: {error}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> Config:
    """Validate YAML text; errors name `source` and the line of the offending key."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, line, f"not valid YAML: {problem}") from None
    if data is None:
        return Config()
    if not isinstance(data, dict):
        raise ConfigError(source, 1, "the file must be a mapping of sections (ingest, ...)")
    lines = key_lines(node)
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = tuple(str(part) for part in first["loc"])
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"unknown setting '{location[-1]}'"
        where = ".".join(location)
        raise ConfigError(source, _line_of(lines, location), f"{where}: {message}") from None


def key_lines(node: yaml.Node | None, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """The line of every key in a composed YAML document, by its path of keys."""
    found: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            found[child] = key.start_mark.line + 1
            found.update(key_lines(value, child))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, str(index))
            found[child] = item.start_mark.line + 1
            found.update(key_lines(item, child))
    return found


def _line_of(lines: Mapping[tuple[str, ...], int], location: tuple[str, ...]) -> int | None:
    """The line of the deepest part of `location` that is in the file."""
    for end in range(len(location), 0, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return 1 if lines else None


def find_config(explicit: Path | None, data_dir: Path) -> Path | None:
    """The file to read: the one named, else `fireline.yaml` in the data directory, if any."""
    if explicit is not None:
        return explicit
    default = data_dir / CONFIG_FILE_NAME
    return default if default.exists() else None


__all__: list[str] = [
    "Alertmanager",
    "Config",
    "Ingest",
    "Otlp",
    "Price",
    "Redaction",
    "find_config",
    "key_lines",
    "load_config",
    "parse_config",
]
