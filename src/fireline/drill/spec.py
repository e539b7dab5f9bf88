"""The drill scenario format: an app's features and traffic, its signals' baseline, the faults
and deploys of the day, and the outcome expected. Written in YAML; see docs/scenarios.md.

`load_scenario` reads a file; mistakes raise ScenarioError with the file, line and problem.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from fireline.config import Config
from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.domain.telemetry import ChangeKind
from fireline.drill.spec_faults import Duration, Factor, Fault, Model, Rate, Shares
from fireline.drill.spec_yaml import ScenarioError, line_of, load_yaml_model

#: The example scenarios that ship with fireline.
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
#: Segment dimensions that are fields of a call; any other dimension is a call attribute.
CALL_DIMENSIONS = (
    "tenant",
    "provider",
    "model",
    "model_version",
    "prompt_version",
    "index_version",
)
#: The segment dimension each kind of change moves to its new version.
CHANGE_DIMENSIONS = {"model": "model_version", "prompt": "prompt_version", "index": "index_version"}


class LatencyBaseline(Model):
    #: Median latency in milliseconds.
    median_ms: Annotated[float, Field(gt=0)] = 900.0
    #: Spread: the standard deviation of the logarithm of latency (0.4 ≈ p99 at 2.5 × median).
    spread: Annotated[float, Field(ge=0)] = 0.4


class TokenBaseline(Model):
    #: Median tokens of a prompt and of an answer.
    input: Annotated[float, Field(gt=0)] = 600.0
    output: Annotated[float, Field(gt=0)] = 250.0
    #: Spread of the logarithm of token counts.
    spread: Annotated[float, Field(ge=0)] = 0.35


class Baseline(Model):
    """How each signal of a feature behaves on a normal day."""

    error_rate: Rate = 0.01
    error_types: Shares = Field(default_factory=lambda: {"http_500": 0.5, "timeout": 0.5})
    latency: LatencyBaseline = Field(default_factory=LatencyBaseline)
    tokens: TokenBaseline = Field(default_factory=TokenBaseline)
    refusal_rate: Rate = 0.01
    empty_rate: Rate = 0.002
    #: Mean and standard deviation of the "quality" eval score, in [0, 1].
    eval_score: Rate = 0.85
    eval_score_spread: Annotated[float, Field(ge=0)] = 0.08
    #: Share of calls that get a thumbs-up, and a thumbs-down (more for bad answers).
    thumbs_up_rate: Rate = 0.05
    thumbs_down_rate: Rate = 0.02
    #: Mean documents retrieved, and cited, per answer (0: a feature without retrieval).
    retrieved_per_answer: Annotated[float, Field(ge=0)] = 0.0
    citations_per_answer: Annotated[float, Field(ge=0)] = 0.0
    #: Share of answers with personal data, and of prompts with an injection attempt.
    pii_rate: Rate = 0.0
    injection_rate: Rate = 0.0
    #: US dollars per million input and output tokens.
    price_input: Annotated[float, Field(ge=0)] = 2.5
    price_output: Annotated[float, Field(ge=0)] = 10.0


class Feature(Model):
    """One AI feature of the app and its traffic."""

    name: Annotated[str, Field(min_length=1)]
    #: Mean requests per second over a day.
    rate: Annotated[float, Field(gt=0)]
    #: Daily cycle: the rate swings by ± this share of the mean, highest at `peak_hour` (UTC).
    daily_amplitude: Annotated[float, Field(ge=0, le=1)] = 0.0
    peak_hour: Annotated[float, Field(ge=0, lt=24)] = 14.0
    #: Distinct users.
    users: Annotated[int, Field(ge=1)] = 5000
    #: Segments: dimension → {value: share}, such as tenant, model, prompt_version, locale, topic.
    segments: dict[str, Shares] = Field(default_factory=dict)
    baseline: Baseline = Field(default_factory=Baseline)


class ChangeSpec(Model):
    """A deploy: from `at`, `rollout` of the calls on `previous_version` move to `version`."""

    id: Annotated[str, Field(min_length=1)]
    at: Duration
    feature: str
    kind: ChangeKind
    version: str
    previous_version: str | None = None
    #: The segment dimension the change moves (by default from its kind: prompt →
    #: prompt_version, model → model_version, index → index_version; none for others).
    dimension: str | None = None
    rollout: Annotated[float, Field(gt=0, le=1)] = 1.0
    description: str | None = None

    @property
    def moves(self) -> str | None:
        """The segment dimension whose values this change moves."""
        return self.dimension or CHANGE_DIMENSIONS.get(self.kind.value)


def _severity_range(value: object) -> object:
    """ "P0-P2" (or a single "P1") as the list of severities it spans."""
    if isinstance(value, str):
        low, _, high = value.partition("-")
        names = [s.value for s in Severity]
        if low.strip() in names and (high.strip() or low.strip()) in names:
            first, last = names.index(low.strip()), names.index(high.strip() or low.strip())
            return names[min(first, last) : max(first, last) + 1]
    return value


def _containment(value: object) -> object:
    if isinstance(value, str) and value.upper() in ContainmentLevel.__members__:
        return ContainmentLevel[value.upper()]
    return value


class Expected(Model):
    """What a good response to the scenario looks like."""

    incident_type: IncidentType
    #: "P0-P1", "P2" or a list.
    severity: Annotated[list[Severity], BeforeValidator(_severity_range), Field(min_length=1)]
    #: 0-5 or a name: none, warn, human_review, fallback, feature_disabled, full_shutdown.
    containment_level: Annotated[ContainmentLevel, BeforeValidator(_containment)]
    #: The id of the change (in `changes`) that caused it, if a deploy did.
    root_cause_change: str | None = None
    #: The segment hit: {"prompt_version": "v2"}; empty for the whole feature.
    affected_segment: dict[str, str] = Field(default_factory=dict)
    #: The feature hit; by default the first fault's.
    feature: str | None = None
    #: The longest a good detection may take after the first fault's onset ("5m", "1d").
    detect_within: Duration | None = None
    #: Whether the incident should resolve by itself before the scenario ends (false for a
    #: fault that lasts to the end).
    resolves: bool = True


class ScenarioSpec(Model):
    """A drill scenario."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    duration: Annotated[Duration, Field(gt=0)] = 86_400.0
    features: Annotated[list[Feature], Field(min_length=1)]
    faults: list[Fault] = Field(default_factory=list)
    changes: list[ChangeSpec] = Field(default_factory=list)
    expected: Expected | None = None
    #: fireline's configuration for the drill (the sections of fireline.yaml), e.g. a
    #: feature's triage profile or its fallback; defaults otherwise.
    config: Config = Field(default_factory=Config)

    @field_validator("start")
    @classmethod
    def _aware(cls, start: datetime) -> datetime:
        return start if start.tzinfo is not None else start.replace(tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration)

    @property
    def expected_feature(self) -> str | None:
        """The feature the scenario's faults hit (the expected one, else the first fault's)."""
        if self.expected is not None and self.expected.feature is not None:
            return self.expected.feature
        return self.faults[0].feature if self.faults else None

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    def values(self, feature: str, dimension: str) -> list[str]:
        """Every value `dimension` takes for `feature`: its shares' and its changes'."""
        found = list(self.feature(feature).segments.get(dimension, {}))
        for change in self.changes:
            if change.feature == feature and change.moves == dimension:
                found += [v for v in (change.previous_version, change.version) if v]
        for fault in self.faults:
            if fault.feature == feature and fault.kind == "input_drift":
                found += list(fault.shares.get(dimension, {}))
        return list(dict.fromkeys(found))


def parse_scenario(text: str, *, source: str = "<scenario>") -> ScenarioSpec:
    """Validate scenario YAML; ScenarioError names `source`, the line and the problem."""
    spec, lines = load_yaml_model(text, ScenarioSpec, source, "a scenario (name, features, ...)")
    problem = _first_inconsistency(spec)
    if problem is not None:
        location, message = problem
        raise ScenarioError(source, line_of(lines, location), f"{'.'.join(location)}: {message}")
    return spec


def load_scenario(path: Path | str) -> ScenarioSpec:
    """Read and validate the scenario file at `path`, or a bundled scenario by name."""
    path = Path(path)
    if not path.suffix and not path.exists():
        if not (SCENARIO_DIR / f"{path}.yaml").exists():
            known = ", ".join(bundled_scenarios())
            raise ScenarioError(str(path), None, f"unknown scenario '{path}'; known: {known}")
        path = SCENARIO_DIR / f"{path}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(str(path), None, f"cannot read: {error}") from None
    return parse_scenario(text, source=str(path))


def bundled_scenarios() -> list[str]:
    """The names of the example scenarios shipped with fireline."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def _first_inconsistency(spec: ScenarioSpec) -> tuple[tuple[str, ...], str] | None:
    """The first reference to something the scenario does not define, and where it is."""
    names = [f.name for f in spec.features]
    for i, feature in enumerate(names):
        if feature in names[:i]:
            return ("features", str(i), "name"), f"feature '{feature}' is defined twice"
    ids = [c.id for c in spec.changes]
    for i, change in enumerate(spec.changes):
        here = ("changes", str(i))
        if change.feature not in names:
            return (*here, "feature"), f"unknown feature '{change.feature}' (features: {names})"
        if change.at >= spec.duration:
            return (*here, "at"), "the change comes after the scenario ends"
        if change.id in ids[:i]:
            return (*here, "id"), f"change id '{change.id}' is used twice"
    for i, fault in enumerate(spec.faults):
        here = ("faults", str(i))
        if fault.feature not in names:
            return (*here, "feature"), f"unknown feature '{fault.feature}' (features: {names})"
        if fault.onset >= spec.duration:
            return (*here, "onset"), "the fault begins after the scenario ends"
        for dimension, value in fault.where.items():
            known = spec.values(fault.feature, dimension)
            if value not in known:
                return (*here, "where", dimension), (
                    f"'{dimension}' never takes the value '{value}' for feature "
                    f"'{fault.feature}' (values: {known})"
                )
    if spec.expected is not None:
        cause = spec.expected.root_cause_change
        if cause is not None and cause not in ids:
            return ("expected", "root_cause_change"), f"no change has the id '{cause}' ({ids})"
        hit = spec.expected.feature
        if hit is not None and hit not in names:
            return ("expected", "feature"), f"unknown feature '{hit}' (features: {names})"
    return None


__all__ = [
    "CALL_DIMENSIONS",
    "SCENARIO_DIR",
    "Baseline",
    "ChangeSpec",
    "Expected",
    "Factor",
    "Feature",
    "ScenarioError",
    "ScenarioSpec",
    "bundled_scenarios",
    "load_scenario",
    "parse_scenario",
]
