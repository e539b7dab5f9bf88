"""Triage: which incident an alert belongs to, what kind of harm it is, and how severe."""
