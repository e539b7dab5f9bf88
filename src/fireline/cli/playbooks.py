"""The playbook commands (work in progress)."""

from __future__ import annotations
