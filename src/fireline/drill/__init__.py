"""Drills: a scenario replayed through the whole loop on a simulated clock, then scored."""

from fireline.drill.runner import run_drill
from fireline.drill.scorecard import Scorecard, overall
from fireline.drill.spec import ScenarioSpec, bundled_scenarios, load_scenario

__all__ = [
    "ScenarioSpec",
    "Scorecard",
    "bundled_scenarios",
    "load_scenario",
    "overall",
    "run_drill",
]
