"""Accredible: the second badge issuing service behind apps.badges.issuers (client.py alone speaks its
HTTP API; throttle.py keeps it under Accredible's rate limit)."""
