"""The containment decision policy as data: which level, which strategy, and who may act.

Two short ordered lists, each first-match: `levels` (the field's decision tree) picks the
containment level, `strategies` picks kill switch, rollback, forward-fix or monitor. They
are separate because the two choices are independent; one list would need every product
of them. Every rule says whether it acts alone or needs a person with the commander role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fireline.domain.guard import ContainmentLevel
from fireline.domain.incident import IncidentType
from fireline.domain.severity import Severity
from fireline.triage.policy import Criticality, FeatureProfile, NistCategory, Persistence

Strategy = Literal["kill_switch", "rollback", "forward_fix", "monitor"]
#: The response role a non-automatic decision waits for.
APPROVER_ROLE = "commander"
Level = Annotated[int, Field(ge=1, le=5)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    """Facts an incident must match; an unset field matches anything, a list any of its items."""

    incident_type: tuple[IncidentType, ...] | None = None
    #: P0 is the most severe: `P1` matches P0 and P1.
    severity_at_least: Severity | None = None
    nist: tuple[NistCategory, ...] | None = None
    criticality: tuple[Criticality, ...] | None = None
    persistence: tuple[Persistence, ...] | None = None
    user_facing: bool | None = None
    #: The harm shows only for inputs matching a known pattern (a filter can hold it).
    confined_to_input_pattern: bool | None = None
    #: A deploy in the incident's window explains it (change correlation).
    explained_by_change: bool | None = None
    #: The rollback registry knows a last-known-good version to return to.
    known_good_available: bool | None = None
    #: The signal that raised the incident: names, or prefixes ending in "." or "*"
    #: ("latency", "scan.", "eval.*").
    signal: tuple[str, ...] | None = None

    def matches(self, facts: Facts) -> bool:
        """Whether every set field agrees with the facts."""
        if self.signal is not None and not any(
            _signal_matches(pattern, facts.signal) for pattern in self.signal
        ):
            return False
        profile = facts.profile
        flags = (
            (self.user_facing, profile.user_facing),
            (self.confined_to_input_pattern, facts.confined_to_input_pattern),
            (self.explained_by_change, facts.explained_by_change),
            (self.known_good_available, facts.known_good_available),
        )
        choices = (
            (self.incident_type, facts.incident_type),
            (self.nist, facts.nist),
            (self.criticality, profile.criticality),
            (self.persistence, profile.persistence),
        )
        return (
            all(want is None or want == have for want, have in flags)
            and all(want is None or have in want for want, have in choices)
            and (
                self.severity_at_least is None or facts.severity.rank <= self.severity_at_least.rank
            )
        )


def _signal_matches(pattern: str, signal: str | None) -> bool:
    """Whether `signal` is `pattern`, or starts with it when it ends in "." or "*".

    >>> _signal_matches("scan.", "scan.pii"), _signal_matches("latency", "latency_p99")
    (True, False)
    """
    if signal is None:
        return False
    if pattern.endswith(("*", ".")):
        return signal.startswith(pattern.rstrip("*"))
    return signal == pattern


class StrategyCondition(Condition):
    """A condition that may also ask for the level the `levels` rules chose."""

    level_at_least: Level | None = None

    def matches_with(self, facts: Facts, level: int) -> bool:
        """Whether the facts and the chosen level match."""
        return self.matches(facts) and (self.level_at_least is None or level >= self.level_at_least)


class LevelRule(_Model):
    """If `when` matches, contain at `level`."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    when: Condition = Field(default_factory=Condition)
    level: Level
    #: False: the level waits for a person with the commander role.
    automatic: bool = True
    #: Applied at once while a non-automatic level waits for the commander.
    interim: Level | None = None

    @model_validator(mode="after")
    def _interim_below(self) -> LevelRule:
        if self.interim is not None and (self.automatic or self.interim >= self.level):
            raise ValueError("interim is for non-automatic rules and must be below level")
        return self


class StrategyRule(_Model):
    """If `when` matches, get out of the incident by `strategy`."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    when: StrategyCondition = Field(default_factory=StrategyCondition)
    strategy: Strategy
    automatic: bool = True


def _r(name: str, level: int, automatic: bool = True, **when: object) -> LevelRule:
    return LevelRule.model_validate(
        {"name": name, "level": level, "automatic": automatic, "when": when}
    )


def _s(name: str, strategy: str, automatic: bool = True, **when: object) -> StrategyRule:
    return StrategyRule.model_validate(
        {"name": name, "strategy": strategy, "automatic": automatic, "when": when}
    )


#: The field's decision tree, plus the outage rule fireline applied before this policy.
DEFAULT_LEVELS = (
    LevelRule(
        name="safety risk",
        when=Condition(incident_type=(IncidentType.SAFETY,)),
        level=5,
        # Shutting every AI feature of the app is the commander's call; the feature's own
        # kill switch holds the harm meanwhile.
        automatic=False,
        interim=4,
    ),
    _r("reputation damage active", 4, incident_type=["reputation"]),
    # Slow is not down: a faster fallback serves users better than no answer at all.
    _r(
        "slow, not failing",
        3,
        incident_type=["availability"],
        signal=["latency", "latency_p99", "time_to_first_token"],
    ),
    _r("outage", 4, incident_type=["availability"], severity_at_least="P1"),
    _r("quality below threshold, user-facing", 3, incident_type=["quality"], user_facing=True),
    _r("quality below threshold, internal", 2, incident_type=["quality"], user_facing=False),
    _r("otherwise monitor and warn", 1),
)
DEFAULT_STRATEGIES = (
    _s(
        "safety-critical domain with user risk",
        "kill_switch",
        criticality=["critical"],
        user_facing=True,
    ),
    _s("explained by a change", "rollback", explained_by_change=True, known_good_available=True),
    # Filters are written by a person: a forward-fix is never automatic.
    _s("confined to an input pattern", "forward_fix", False, confined_to_input_pattern=True),
    _s("feature disabled", "kill_switch", level_at_least=4),
    _s("otherwise monitor", "monitor"),
)


class ContainmentPolicy(_Model):
    """The decision part of the `containment` section of fireline.yaml."""

    levels: tuple[LevelRule, ...] = DEFAULT_LEVELS
    strategies: tuple[StrategyRule, ...] = DEFAULT_STRATEGIES
    #: Share of requests an app still sends to a disabled feature, so recovery shows.
    probe_share: Annotated[float, Field(ge=0, le=1)] = 0.05

    @model_validator(mode="after")
    def _ends_with_catch_all(self) -> ContainmentPolicy:
        # A last rule that matches everything means `decide` always has an answer.
        for kind, rules in (("levels", self.levels), ("strategies", self.strategies)):
            if not rules or rules[-1].when.model_dump(exclude_none=True):
                raise ValueError(f"the last rule of {kind} must have no conditions (catch-all)")
        return self


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known of an incident when containment is decided."""

    incident_type: IncidentType
    severity: Severity
    nist: str | None = None
    profile: FeatureProfile = field(default_factory=FeatureProfile)
    confined_to_input_pattern: bool = False
    explained_by_change: bool = False
    known_good_available: bool = False
    #: The signal of the alert that raised the incident.
    signal: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The containment wanted, whether it may act alone, and the rules that chose it."""

    level: ContainmentLevel
    strategy: Strategy
    #: Both the level and the strategy may be applied without a person.
    automatic: bool
    #: The level that may be set now without a person (None: nothing until approved).
    automatic_level: ContainmentLevel | None
    reason: str
    level_rule: str
    strategy_rule: str
    probe_share: float = 0.0
    #: The strategy (rollback, filters) may be carried out without a person.
    strategy_automatic: bool = False

    @property
    def needs_approval_by(self) -> str | None:
        """The role that must approve, or None when the decision acts alone."""
        return None if self.automatic else APPROVER_ROLE


def decide(facts: Facts, policy: ContainmentPolicy) -> Decision:
    """The first matching level rule and the first matching strategy rule, with their reasons.

    >>> decide(Facts(IncidentType.QUALITY, Severity.P2), ContainmentPolicy()).reason
    'level 3 by rule "quality below threshold, user-facing"; monitor by rule "otherwise monitor"'
    >>> d = decide(Facts(IncidentType.SAFETY, Severity.P1), ContainmentPolicy())
    >>> int(d.level), int(d.automatic_level or 0), d.strategy, d.needs_approval_by
    (5, 4, 'kill_switch', 'commander')
    >>> d = decide(
    ...     Facts(IncidentType.QUALITY, Severity.P2, explained_by_change=True,
    ...           known_good_available=True), ContainmentPolicy())
    >>> int(d.level), d.strategy, d.automatic
    (3, 'rollback', True)
    """
    rule = next(r for r in policy.levels if r.when.matches(facts))
    pick = next(s for s in policy.strategies if s.when.matches_with(facts, rule.level))
    level = ContainmentLevel(rule.level)
    if rule.automatic:
        automatic_level: ContainmentLevel | None = level
    else:
        automatic_level = None if rule.interim is None else ContainmentLevel(rule.interim)
    disabled = level >= ContainmentLevel.FEATURE_DISABLED
    return Decision(
        level=level,
        strategy=pick.strategy,
        automatic=rule.automatic and pick.automatic,
        automatic_level=automatic_level,
        reason=(f'level {rule.level} by rule "{rule.name}"; {pick.strategy} by rule "{pick.name}"'),
        level_rule=rule.name,
        strategy_rule=pick.name,
        probe_share=policy.probe_share if disabled else 0.0,
        strategy_automatic=pick.automatic,
    )
