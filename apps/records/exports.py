"""A program record as a CSV table: one row per course, with the program and learner on every row so
each row stands alone when the file is filtered or imported elsewhere."""

from __future__ import annotations

import csv
from typing import Any, Protocol

from .data import ProgramRecordData

CSV_HEADER = [
    "Program",
    "Program type",
    "Learner",
    "Username",
    "Course key",
    "Course",
    "Best grade (%)",
    "Letter grade",
    "Passed",
    "Best grade run",
    "Certificate",
    "Certificate mode",
    "Certificate run",
    "Certificate issued",
    "Completed",
]

# Spreadsheets run a cell starting with one of these as a formula; titles and names come from
# outside (the catalog, the LMS), so a learner named "=HYPERLINK(...)" must stay text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


def write_program_record_csv(*, record: ProgramRecordData, out: _Writable) -> None:
    """Write the record's header and one row per course, in program order, to `out`."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for course in record.courses:
        grade = course.best_grade
        certificate = course.certificate
        writer.writerow(
            _cell(value)
            for value in (
                record.program.title,
                record.program.type,
                record.learner.full_name,
                record.learner.username,
                course.course_key,
                course.title,
                grade.percent if grade else None,
                grade.letter_grade if grade else None,
                grade.passed if grade else None,
                grade.course_run_key if grade else None,
                certificate.status.value,
                certificate.mode,
                certificate.course_run_key,
                certificate.issued_date,
                course.completed,
            )
        )
