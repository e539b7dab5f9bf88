"""The severity policy as data: points for user impact and the AI factors, thresholds per level.

The default reproduces the field's rule of thumb that the same signal is graded by where it
happens: a 10 % drop in answer quality scores 3 points of impact; a medical feature
(criticality `critical`, +4) reaches 7, P0; a music recommender (`low`, +0) stays at 3, P3.
Every setting can be overridden in the `triage` section of fireline.yaml.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fireline.domain.severity import Severity

Criticality = Literal["critical", "high", "medium", "low"]
Persistence = Literal["none", "cached", "stored", "sent_externally"]
Reversibility = Literal["reversible", "hard", "irreversible"]
NistCategory = Literal[
    "reliability", "safety", "security", "privacy", "fairness", "explainability", "accountability"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Model):
    """Points for a measure at or above `at_least`."""

    at_least: float
    points: int


class FeatureProfile(_Model):
    """What a feature's failures cost: the domain knowledge triage cannot read from telemetry."""

    criticality: Criticality = "medium"
    #: Where a wrong answer ends up: shown once, cached, stored, or sent on to others.
    persistence: Persistence = "none"
    reversibility: Reversibility = "reversible"
    user_facing: bool = True
    #: Features this one calls: an incident of one is joined by alerts of the others.
    depends_on: tuple[str, ...] = ()


class Points(_Model):
    """How many points each factor adds."""

    #: Share of requests harmed (a rate's excess over baseline, a mean's relative change,
    #: the share failing for error rates), highest step reached.
    impact: tuple[Step, ...] = (
        Step(at_least=0.90, points=6),
        Step(at_least=0.25, points=4),
        Step(at_least=0.05, points=3),
        Step(at_least=0.01, points=2),
        Step(at_least=0.0, points=1),
    )
    #: Share of tenants or users in the affected segment (whole feature: 1).
    blast_radius: tuple[Step, ...] = (Step(at_least=0.5, points=0), Step(at_least=0.0, points=-1))
    criticality: dict[Criticality, int] = {"critical": 4, "high": 2, "medium": 1, "low": 0}
    persistence: dict[Persistence, int] = {
        "none": 0,
        "cached": 1,
        "stored": 1,
        "sent_externally": 2,
    }
    reversibility: dict[Reversibility, int] = {"reversible": 0, "hard": 1, "irreversible": 2}
    #: Added while the signal is worse than when the incident was detected.
    amplification: int = 1
    #: Minutes between the evidence window's start and detection, highest step reached.
    detection_delay_min: tuple[Step, ...] = (Step(at_least=60, points=1),)
    internal: int = -1  # a feature no end user sees
    incident_type: dict[str, int] = {
        "safety": 2,
        "reputation": 1,
        "availability": 0,
        "quality": 0,
        "economic": 0,
    }


class Thresholds(_Model):
    """Fewest points for each level; below P2 is P3."""

    P0: int = 7
    P1: int = 5
    P2: int = 4

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.P0 >= self.P1 >= self.P2:
            raise ValueError("thresholds must not increase from P0 to P2")
        return self

    def severity(self, points: int) -> Severity:
        for level, least in (
            (Severity.P0, self.P0),
            (Severity.P1, self.P1),
            (Severity.P2, self.P2),
        ):
            if points >= least:
                return level
        return Severity.P3


class Floor(_Model):
    """At least `severity` for incidents that match every given condition."""

    severity: Severity
    incident_type: str | None = None
    nist: NistCategory | None = None
    criticality: Criticality | None = None
    reason: Annotated[str, Field(max_length=200)] = ""


class Triage(_Model):
    """The `triage` section of fireline.yaml."""

    #: Profiles by feature; features not listed get `default_profile`.
    features: dict[str, FeatureProfile] = Field(default_factory=dict)
    default_profile: FeatureProfile = Field(default_factory=FeatureProfile)
    points: Points = Field(default_factory=Points)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    #: Minimum severities whatever the points: privacy and security leaks are never P3.
    floors: tuple[Floor, ...] = (
        Floor(severity=Severity.P1, nist="privacy", reason="personal data exposed"),
        Floor(severity=Severity.P1, nist="security", reason="a security boundary was crossed"),
    )
    #: Call attributes or segments whose values are protected groups (fairness incidents).
    protected_segments: tuple[str, ...] = ()
    #: The harm must have grown by this share since detection to count as amplification.
    amplification_growth: Annotated[float, Field(ge=0)] = 0.5
    #: An alert joins an open incident opened at most this long before (same feature,
    #: a dependent one, or sharing a suspected change).
    group_window_s: Annotated[int, Field(ge=0)] = 6 * 3_600
    #: A change deployed this long before detection is a suspect shared between incidents.
    change_window_s: Annotated[int, Field(ge=0)] = 2 * 3_600

    def profile(self, feature: str) -> FeatureProfile:
        return self.features.get(feature, self.default_profile)
