"""On-call: schedules with rotations and overrides, escalation policies, pages until acked."""
