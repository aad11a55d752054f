"""Credly: the badge issuing service behind apps.badges.issuers (client.py alone speaks its HTTP API)."""
