"""Importing an existing openedx/credentials service's credentials (and grades) through its REST API:
`client.py` is the only module that talks to it, `services.py` writes what it read (see the
import_credentials command and the app's README)."""
