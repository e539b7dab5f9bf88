"""Loading playbooks: the built-in ones shipped as data files, and a user's directory of them.

A user's playbook with the id of a built-in one replaces it. A file that cannot be used
raises PlaybookError (a ConfigError) with the file, the line and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from pydantic import ValidationError

from fireline.domain.incident import IncidentType
from fireline.errors import ConfigError, NotFound
from fireline.playbooks import messages
from fireline.playbooks.actions import ACTIONS, DraftArgs
from fireline.playbooks.model import Playbook, best_match

if TYPE_CHECKING:
    from fireline.drill.spec_yaml import Path as KeyPath

#: The playbooks that ship with fireline, one YAML file each.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
SUFFIXES = (".yaml", ".yml")


class PlaybookError(ConfigError):
    """A playbook file that cannot be used; names the file, the line and the problem."""


def parse_playbook(text: str, *, source: str = "<playbook>") -> Playbook:
    """Validate playbook YAML; PlaybookError names `source`, the line and the problem."""
    # Imported here: the drill package imports the runtime, whose incident service attaches
    # playbooks, so importing it with this module would be circular.
    from fireline.drill.spec_yaml import ScenarioError, load_yaml_model

    try:
        playbook, lines = load_yaml_model(
            text, Playbook, source, "a playbook (id, title, containment, steps, ...)"
        )
    except ScenarioError as error:
        raise PlaybookError(error.source, error.line, error.message) from None
    _check_steps(playbook, lines, source)
    _check_templates(playbook, lines, source)
    return playbook


def load_playbook(path: Path) -> Playbook:
    """Read and validate the playbook file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PlaybookError(str(path), None, f"cannot read: {error}") from None
    return parse_playbook(text, source=str(path))


def _check_steps(playbook: Playbook, lines: Mapping[KeyPath, int], source: str) -> None:
    """Every automatic step names a known action with arguments it takes."""
    from fireline.drill.spec_yaml import line_of

    for index, step in enumerate(playbook.steps):
        here = ("steps", str(index))
        if step.id in [s.id for s in playbook.steps[:index]]:
            where = line_of(lines, (*here, "id"))
            raise PlaybookError(source, where, f"steps.{index}.id: '{step.id}' is used twice")
        if step.automatic is None:
            if step.args:
                where = line_of(lines, (*here, "args"))
                raise PlaybookError(source, where, f"steps.{index}.args: only for automatic steps")
            continue
        action = ACTIONS.get(step.automatic)
        if action is None:
            known = ", ".join(ACTIONS)
            raise PlaybookError(
                source,
                line_of(lines, (*here, "automatic")),
                f"steps.{index}.automatic: unknown action '{step.automatic}' (actions: {known})",
            )
        try:
            args = action.args.model_validate(step.args)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            location = (*here, "args", *(str(p) for p in first["loc"]))
            raise PlaybookError(
                source, line_of(lines, location), f"{'.'.join(location)}: {first['msg']}"
            ) from None
        if isinstance(args, DraftArgs) and args.template not in playbook.templates:
            raise PlaybookError(
                source,
                line_of(lines, (*here, "args", "template")),
                f"steps.{index}.args.template: the playbook has no '{args.template}' template",
            )


def _check_templates(playbook: Playbook, lines: Mapping[KeyPath, int], source: str) -> None:
    """Every template compiles and renders for a sample incident (no misspelt variables)."""
    from fireline.drill.spec_yaml import line_of

    values = messages.context(messages.SAMPLE, {"id": playbook.id, "title": playbook.title})
    for name, text in playbook.templates.items():
        at = line_of(lines, ("templates", name))
        try:
            messages.render(text, values)
        except jinja2.TemplateSyntaxError as error:
            # A block scalar's first line is the one after its key.
            line = at + error.lineno if at is not None else None
            raise PlaybookError(source, line, f"templates.{name}: {error.message}") from None
        except jinja2.TemplateError as error:
            raise PlaybookError(source, at, f"templates.{name}: {error}") from None


@lru_cache(maxsize=1)
def builtin_playbooks() -> tuple[Playbook, ...]:
    """The playbooks shipped with fireline (read once)."""
    return tuple(load_playbook(path) for path in _files(BUILTIN_DIR))


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())


@dataclass(frozen=True, slots=True)
class Library:
    """The playbooks in use, and where each one comes from ("builtin" or its file)."""

    playbooks: tuple[Playbook, ...]
    origins: Mapping[str, str]

    def get(self, playbook_id: str) -> Playbook:
        found = next((p for p in self.playbooks if p.id == playbook_id), None)
        if found is None:
            known = ", ".join(p.id for p in self.playbooks)
            raise NotFound(f"no playbook '{playbook_id}' (playbooks: {known})")
        return found

    def match(
        self, incident_type: IncidentType, alerts: Sequence[tuple[str, Mapping[str, str]]]
    ) -> Playbook | None:
        """The playbook that fits an incident of this type with these alerts best."""
        return best_match(self.playbooks, incident_type, alerts)


def library(user_dir: Path | None = None) -> Library:
    """The built-in playbooks, with those of `user_dir` added or replacing them by id."""
    chosen: dict[str, Playbook] = {p.id: p for p in builtin_playbooks()}
    origins = dict.fromkeys(chosen, "builtin")
    if user_dir is not None:
        if not user_dir.is_dir():
            raise PlaybookError(str(user_dir), None, "the playbooks directory does not exist")
        seen: dict[str, Path] = {}
        for path in _files(user_dir):
            playbook = load_playbook(path)
            if playbook.id in seen:
                raise PlaybookError(
                    str(path), 1, f"id '{playbook.id}' is used by {seen[playbook.id]} too"
                )
            seen[playbook.id] = path
            chosen[playbook.id] = playbook
            origins[playbook.id] = str(path)
    return Library(tuple(sorted(chosen.values(), key=lambda p: p.id)), origins)


__all__ = [
    "BUILTIN_DIR",
    "Library",
    "PlaybookError",
    "builtin_playbooks",
    "library",
    "load_playbook",
    "parse_playbook",
]
