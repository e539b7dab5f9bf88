"""Drills: a scenario replayed through the whole loop on a simulated clock, then scored."""

from fireline.drill.runner import run_drill
from fireline.drill.scenario import SCENARIOS, Fault, Scenario
from fireline.drill.scorecard import Scorecard

__all__ = ["SCENARIOS", "Fault", "Scenario", "Scorecard", "run_drill"]
