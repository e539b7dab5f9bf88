"""The human review queue of containment level 2: held outputs, decisions, and labels."""

from fireline.review.queue import (
    TRANSITIONS,
    Decision,
    Label,
    Review,
    ReviewStatus,
    decide,
    expire,
    label_of,
)

__all__ = [
    "TRANSITIONS",
    "Decision",
    "Label",
    "Review",
    "ReviewStatus",
    "decide",
    "expire",
    "label_of",
]
