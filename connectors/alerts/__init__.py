"""Alert delivery off the flow's hot path: Slack, Discord, email and signed webhooks."""
