"""Playbooks: the field's runbooks as data, attached to incidents (work in progress)."""
