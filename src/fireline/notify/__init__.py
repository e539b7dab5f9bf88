"""Notifications: channels (Slack, PagerDuty, e-mail, webhooks), outbox, message templates."""
