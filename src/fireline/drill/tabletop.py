"""Tabletop mode: a person walks through a scenario in the terminal, step by step.

Each step shows what a responder would see (the signal that moved, the segment, the
deploys) and asks for one decision with numbered choices. At the end every decision is
compared with the scenario's expected outcome and with the playbook that matches it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.drill.spec import ScenarioSpec, bundled_scenarios, load_scenario
from fireline.errors import ConfigError
from fireline.playbooks import scenario_brief as brief
from fireline.playbooks.library import Library, library
from fireline.playbooks.model import Playbook, Section

Read = Callable[[str], str]
NO_INCIDENT = "none"
STRATEGIES = (
    ("kill_switch", "kill switch: disable the feature, serve the fallback"),
    ("rollback", "rollback: return to the last known good version"),
    ("forward_fix", "forward fix: filters and guardrails, no rollback"),
    ("monitor", "monitor: watch, change nothing yet"),
)


class Stopped(Exception):
    """The person ended the session (end of input or Ctrl-C)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One decision compared with what the scenario and the playbook call for."""

    decision: str
    answer: str
    expected: str
    source: str
    correct: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "answer": self.answer,
            "expected": self.expected,
            "source": self.source,
            "correct": self.correct,
        }


class _Session:
    """Asks the questions; answers are validated and asked again until usable."""

    def __init__(self, console: Console, read: Read) -> None:
        self.console = console
        self.read = read

    def _ask(self, prompt: str) -> str:
        try:
            return self.read(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            raise Stopped from None

    def choose(self, question: str, options: Sequence[tuple[str, str]], first: int = 1) -> str:
        """One of `options` (value, label), by number (counted from `first`) or by value."""
        self.console.print(f"\n[bold]{question}[/bold]")
        for number, (_, label) in enumerate(options, first):
            self.console.print(f"  {number}. {label}", markup=False, highlight=False)
        values = {value.lower(): value for value, _ in options}
        last = first + len(options) - 1
        while True:
            answer = self._ask("> ")
            if answer.isdigit() and first <= int(answer) <= last:
                return options[int(answer) - first][0]
            if answer.lower() in values:
                return values[answer.lower()]
            self.console.print(f"answer with a number from {first} to {last}", markup=False)

    def choose_many(self, question: str, options: Sequence[tuple[str, str]]) -> list[str]:
        """Any of `options`, as numbers separated by commas or spaces; 0 for none."""
        self.console.print(f"\n[bold]{question}[/bold] (numbers separated by commas; 0: none)")
        for number, (_, label) in enumerate(options, 1):
            self.console.print(f"  {number}. {label}", markup=False, highlight=False)
        while True:
            parts = self._ask("> ").replace(",", " ").split()
            if parts == ["0"]:
                return []
            if parts and all(p.isdigit() and 1 <= int(p) <= len(options) for p in parts):
                picked = dict.fromkeys(int(p) for p in parts)
                return [options[n - 1][0] for n in picked]
            self.console.print(
                f"answer with numbers from 1 to {len(options)}, or 0 for none", markup=False
            )


def tabletop(
    scenario: str,
    *,
    console: Console,
    read: Callable[[str], str] = input,
    record: Path | None = None,
) -> int:
    """Walk a person through `scenario` (a bundled name or a file); the exit code."""
    try:
        spec = _load(scenario)
        playbooks = library()
    except ConfigError as error:
        console.print(f"error: {error}", markup=False, highlight=False)
        return 2
    matched = brief.matching_playbook(spec, playbooks)
    try:
        decisions = _walk(spec, playbooks, _Session(console, read))
    except Stopped:
        console.print("\ntabletop stopped before the end: nothing recorded", markup=False)
        return 1
    rows = compare(spec, decisions, matched)
    _scorecard(console, spec, rows)
    if record is not None:
        result = {
            "scenario": spec.name,
            "playbook": matched.id if matched else None,
            "decisions": decisions,
            "comparison": [row.to_dict() for row in rows],
            "score": {"correct": sum(r.correct for r in rows), "total": len(rows)},
        }
        try:
            record.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            console.print(f"error: cannot write {record}: {error}", markup=False)
            return 2
        console.print(f"decisions written to {record}", markup=False, highlight=False)
    return 0


def _load(scenario: str) -> ScenarioSpec:
    path = Path(scenario)
    if not path.exists() and scenario not in bundled_scenarios():
        known = ", ".join(bundled_scenarios())
        raise ConfigError(scenario, None, f"no such scenario file or bundled scenario ({known})")
    return load_scenario(scenario)


def _walk(spec: ScenarioSpec, playbooks: Library, ask: _Session) -> dict[str, Any]:
    """Show each step of the scenario and record the decision taken at it."""
    out = ask.console
    out.print(f"[bold]Tabletop: {spec.name}[/bold]", highlight=False)
    features = ", ".join(f"{f.name} ({f.rate:g} requests/s)" for f in spec.features)
    out.print(f"You are on call for {features}. It is {spec.start:%Y-%m-%d}.", highlight=False)
    seen = brief.observations(spec)
    out.print("\n[bold]1. The page[/bold]")
    for found in seen:
        out.print(f"  {found.feature}: {found.what}, {found.when}", markup=False)
    if not seen:
        out.print("  every signal stays at its baseline all day", markup=False)
    decisions: dict[str, Any] = {}
    types = [(t.value, t.value) for t in IncidentType]
    kind = ask.choose(
        "What kind of incident is this?", [*types, (NO_INCIDENT, "no incident: nothing to do")]
    )
    decisions["incident_type"] = kind
    if kind == NO_INCIDENT:
        return decisions

    out.print("\n[bold]2. Blast radius[/bold]")
    for found in seen:
        where = ", ".join(f"{k} {v}" for k, v in found.segment.items()) or "the whole feature"
        share = f" (about {found.share:.0%} of its traffic)" if found.share is not None else ""
        out.print(f"  {found.signal}: {where}{share}", markup=False)
    severities = [(s.value, f"{s.value} {s.label}: respond {s.response_target}") for s in Severity]
    decisions["severity"] = ask.choose("How severe is it?", severities)

    out.print("\n[bold]3. Containment[/bold]")
    levels = [(str(int(v)), v.description) for v in ContainmentLevel]
    # Numbered by level, so "3" means level 3.
    decisions["containment_level"] = int(ask.choose("Which containment level?", levels, first=0))
    decisions["strategy"] = ask.choose("And the way out?", STRATEGIES)

    out.print("\n[bold]4. What changed[/bold]")
    changes = brief.deploys(spec)
    for change in changes:
        at = brief.duration(change.at)
        out.print(
            f"  {at} into the day: {change.kind} {change.previous_version or '?'} → "
            f"{change.version} on {change.feature} ({change.rollout:.0%} of traffic)",
            markup=False,
        )
    if not changes:
        out.print("  no deploys today", markup=False)
    suspects = [(c.id, f"{c.id}: {c.kind} {c.version}") for c in changes]
    decisions["root_cause_change"] = ask.choose(
        "Which change caused it?", [*suspects, (NO_INCIDENT, "none of these")]
    )

    out.print("\n[bold]5. Playbook[/bold]")
    options = [(p.id, f"{p.id}: {p.title}") for p in playbooks.playbooks]
    chosen = playbooks.get(ask.choose("Which playbook do you follow?", options))
    decisions["playbook"] = chosen.id
    steps = [(s.id, f"[{s.section.value}] {s.title}") for s in chosen.steps]
    decisions["first_steps"] = ask.choose_many("Which steps do you take first?", steps)
    return decisions


def compare(
    spec: ScenarioSpec,
    decisions: dict[str, Any],
    matched: Playbook | None,
) -> list[Row]:
    """Each decision against the scenario's expected outcome, or else the playbook's."""
    expected = spec.expected
    kind = decisions["incident_type"]
    if expected is None:
        right = NO_INCIDENT if not spec.faults else str(brief.incident_type(spec) or NO_INCIDENT)
        return [Row("incident type", kind, right, "scenario", kind == right)]
    rows = [
        Row(
            "incident type",
            kind,
            expected.incident_type.value,
            "scenario",
            kind == expected.incident_type.value,
        )
    ]
    if kind == NO_INCIDENT:
        return rows
    # The playbook's guidance is shown beside the scenario's ground truth, which decides.
    advice = ""
    if matched is not None:
        typical = [s.value for s in matched.severity.typical]
        advice = f" (playbook: {_span(typical)}, level {matched.containment.level})"
    severity = decisions["severity"]
    span = [s.value for s in expected.severity]
    rows.append(Row("severity", severity, _span(span), "scenario" + advice, severity in span))
    level = decisions["containment_level"]
    want = int(expected.containment_level)
    rows.append(Row("containment level", str(level), str(want), "scenario" + advice, level == want))
    if matched is not None:
        strategy = matched.containment.strategy
        rows.append(
            Row(
                "strategy",
                decisions["strategy"],
                strategy,
                f"playbook {matched.id}",
                decisions["strategy"] == strategy,
            )
        )
    cause = expected.root_cause_change or NO_INCIDENT
    rows.append(
        Row(
            "root cause",
            decisions["root_cause_change"],
            cause,
            "scenario",
            decisions["root_cause_change"] == cause,
        )
    )
    if matched is not None:
        rows.append(
            Row(
                "playbook",
                decisions["playbook"],
                matched.id,
                "playbook matching",
                decisions["playbook"] == matched.id,
            )
        )
        first = [s.id for s in matched.in_section(Section.CONTAINMENT)]
        picked = decisions["first_steps"]
        rows.append(
            Row(
                "first steps",
                ", ".join(picked) or "none",
                ", ".join(first),
                f"playbook {matched.id} (containment)",
                set(picked) == set(first),
            )
        )
    return rows


def _span(severities: list[str]) -> str:
    return "-".join(dict.fromkeys([severities[0], severities[-1]]))


def _scorecard(console: Console, spec: ScenarioSpec, rows: list[Row]) -> None:
    correct = sum(r.correct for r in rows)
    table = Table(
        "decision",
        "yours",
        "expected",
        "according to",
        "",
        title=f"tabletop {spec.name}: {correct} of {len(rows)} decisions as expected",
    )
    for row in rows:
        mark = Text("✓", style="green") if row.correct else Text("✗", style="red")
        table.add_row(row.decision, Text(row.answer), Text(row.expected), Text(row.source), mark)
    console.print(table)
    if spec.description:
        console.print(f"\nWhat happened: {' '.join(spec.description.split())}", markup=False)
