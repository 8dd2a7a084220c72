"""Agency-system integration: the change feed, signed webhooks and bulk package exchange."""
