"""The completion rule, in one place: a template is complete when every group of its requirements is
satisfied, and a group is satisfied when any one of its requirements is fulfilled (an AND of ORs). A
requirement with an empty group is a group of its own. Pure: the processor, the progress API and
`recompute_badge_progress` all decide with it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RequirementRef:
    """What the rule needs to know of a requirement: its id and its group ('' = a group of its own)."""

    id: int
    group: str = ""

    @property
    def group_key(self) -> str:
        # '#' cannot start a named group's key by accident: named groups are keyed by 'g:' + name.
        return f"g:{self.group}" if self.group else f"#{self.id}"


def groups(requirements: Iterable[RequirementRef]) -> dict[str, list[int]]:
    """The template's groups: each group's key with its requirements' ids, in the given order."""
    grouped: dict[str, list[int]] = {}
    for requirement in requirements:
        grouped.setdefault(requirement.group_key, []).append(requirement.id)
    return grouped


def is_complete(requirements: Iterable[RequirementRef], fulfilled: Collection[int]) -> bool:
    """Whether every group has a fulfilled requirement. A template without requirements is never
    complete (activation refuses one, and one whose requirements were all deleted awards nothing)."""
    return is_satisfied(groups(requirements).values(), fulfilled)


def is_satisfied(grouped: Iterable[Collection[int]], fulfilled: Collection[int]) -> bool:
    """`is_complete` over groups computed once (`groups(...).values()`), for the processor's hot loop."""
    seen = False
    for ids in grouped:
        seen = True
        if not any(pk in fulfilled for pk in ids):
            return False
    return seen


def unsatisfied_groups(requirements: Iterable[RequirementRef], fulfilled: Collection[int]) -> list[list[int]]:
    """The groups (their requirements' ids) that no fulfilled requirement satisfies yet, in order."""
    return [ids for ids in groups(requirements).values() if not any(pk in fulfilled for pk in ids)]
