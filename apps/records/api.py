"""The records app's public interface for other apps: learner program records as frozen data."""

from __future__ import annotations

from .exceptions import RecordsNotFoundError
from .selectors import get_program_record, get_shared_program_record, list_program_records

__all__ = [
    "RecordsNotFoundError",
    "get_program_record",
    "get_shared_program_record",
    "list_program_records",
]
