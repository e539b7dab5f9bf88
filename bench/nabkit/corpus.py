"""The NAB corpus on disk: series, anomaly windows, profiles and published results."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The three application profiles of NAB, in the order they are reported.
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
#: The keys fireline reports each profile's normalized score under.
REPORT_KEYS = {
    "standard": "nab_standard",
    "reward_low_FP_rate": "nab_low_fp",
    "reward_low_FN_rate": "nab_low_fn",
}


def nab_dir() -> Path:
    """Where the NAB data lives: `$FIRELINE_NAB_DIR`, else `../shared/data/nab` of the repo,
    else the workplace's shared folder (a clone made elsewhere, as CI's, still finds it)."""
    given = os.environ.get("FIRELINE_NAB_DIR")
    if given:
        return Path(given)
    beside = REPO_ROOT.parent / "shared" / "data" / "nab"
    workplace = Path("/work/shared/data/nab")
    return workplace if not beside.exists() and workplace.exists() else beside


@dataclass(frozen=True)
class Series:
    """One data file: its key (`category/name.csv`), timestamps, values and window rows."""

    key: str
    timestamps: tuple[str, ...]
    values: np.ndarray
    #: (first row, last row) of each anomaly window, both inclusive, in time order.
    windows: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True)
class CostMatrix:
    """The weights of one application profile."""

    tp: float
    fp: float
    fn: float


def _read_csv(path: Path, columns: tuple[str, ...]) -> tuple[list[str], list[list[float]]]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        where = [header.index(c) for c in columns]
        stamps, values = [], []
        for row in reader:
            stamps.append(row[0])
            values.append([float(row[i]) for i in where])
    return stamps, values


def _window_rows(
    key: str, stamps: list[str], limits: list[list[str]]
) -> tuple[tuple[int, int], ...]:
    """Rows of each window; window limits must be timestamps of the file (as NAB requires)."""
    index = {s: i for i, s in enumerate(stamps)}
    rows = []
    for start, end in limits:
        first, last = index.get(start[:19]), index.get(end[:19])
        if first is None or last is None:
            raise ValueError(f"{key}: window {start}..{end} does not match the file's timestamps")
        rows.append((first, last))
    return tuple(rows)


def _require(root: Path) -> Path:
    if not (root / "labels" / "combined_windows.json").is_file():
        raise FileNotFoundError(
            f"NAB data not found at {root}: set FIRELINE_NAB_DIR or provide ../shared/data/nab"
        )
    return root


@cache
def load_corpus(root: Path | None = None) -> tuple[Series, ...]:
    """All 58 series with their anomaly windows, sorted by key."""
    root = _require(root or nab_dir())
    limits = json.loads((root / "labels" / "combined_windows.json").read_text())
    corpus = []
    for key in sorted(limits):
        stamps, values = _read_csv(root / "data" / key, ("value",))
        windows = _window_rows(key, stamps, limits[key])
        corpus.append(Series(key, tuple(stamps), np.array(values)[:, 0], windows))
    return tuple(corpus)


def load_profiles(root: Path | None = None) -> dict[str, CostMatrix]:
    """The cost matrix of each profile, from NAB's `config/profiles.json`."""
    raw = json.loads((_require(root or nab_dir()) / "config" / "profiles.json").read_text())
    return {
        name: CostMatrix(
            tp=raw[name]["CostMatrix"]["tpWeight"],
            fp=raw[name]["CostMatrix"]["fpWeight"],
            fn=raw[name]["CostMatrix"]["fnWeight"],
        )
        for name in PROFILES
    }


def load_published_scores(
    detector: str, corpus: tuple[Series, ...], root: Path | None = None
) -> dict[str, np.ndarray]:
    """A published detector's per-row `anomaly_score` for every series of the corpus."""
    root = _require(root or nab_dir())
    scores = {}
    for series in corpus:
        category, name = series.key.split("/")
        path = root / "results" / detector / category / f"{detector}_{name}"
        stamps, values = _read_csv(path, ("anomaly_score",))
        if tuple(stamps) != series.timestamps:
            raise ValueError(f"{path}: rows do not match the data file")
        scores[series.key] = np.array(values)[:, 0]
    return scores


def load_scoreboard(root: Path | None = None) -> dict[str, dict[str, float]]:
    """Each published detector's normalized scores, keyed like fireline's report."""
    raw = json.loads((_require(root or nab_dir()) / "results" / "final_results.json").read_text())
    return {
        detector: {REPORT_KEYS[p]: round(float(scores[p]), 2) for p in PROFILES}
        for detector, scores in sorted(raw.items())
    }
