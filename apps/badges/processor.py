"""The badge processor's rules, in memory: which templates' requirements and penalties an event
matches, and how a learner's fulfilled requirements and badge change with each event. No database:
`services.process_badge_events` loads the ruleset and the learners' state, runs every event through
`LearnerTemplateState.apply` in order, and writes what changed.

Per event and template, penalties apply before requirements, so an event that both resets and fulfils
a requirement leaves it fulfilled. A badge is awarded when the template becomes complete
(`completion.is_complete`); it is revoked when a penalty makes it incomplete and the template is
revocable. So for a revocable template "awarded" always equals "complete", and for another one
"awarded" equals "was ever complete".
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opaque_keys import OpaqueKey

from apps.core.api import LearnerIdentity

from . import rules
from .completion import RequirementRef, groups, is_satisfied
from .exceptions import BadgesErrorCode, DataRuleError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BadgeEvent:
    """An event fed to the badge processor: its type, the learner it is about, and its data (the
    openedx-events data classes, as the signal's `send_event` takes them)."""

    event_type: str
    learner: LearnerIdentity
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class CompiledRule:
    id: int
    data_path: str
    operator: str
    value: Any  # parsed for the field's type by rules.parse_value
    error: str = ""  # why the rule cannot be evaluated (then its owner never matches)


@dataclass(frozen=True)
class Matcher:
    """A requirement or a penalty: an event type and data rules that must all match."""

    id: int
    template_id: int
    event_type: str
    rules: tuple[CompiledRule, ...]
    resets: frozenset[int] = frozenset()  # a penalty's requirements

    def __post_init__(self) -> None:
        # Equality with a key or text first: it rules most events out, before the cheaper-to-pass rules.
        selective = sorted(
            self.rules, key=lambda rule: (rule.operator != "eq", not isinstance(rule.value, (str, OpaqueKey)))
        )
        object.__setattr__(self, "rules", tuple(selective))

    def matches(self, payload: Mapping[str, Any], *, kind: str) -> bool:
        """Whether every rule matches. A rule that cannot be evaluated (its path is gone from the event
        type, the payload's field has another type) is logged and the matcher does not match: one bad
        rule must not stop other templates from seeing the event."""
        for rule in self.rules:
            if rule.error:
                log.warning("Badge %s %s: data rule %s is skipped: %s", kind, self.id, rule.id, rule.error)
                return False
            try:
                if not rules.evaluate(rule.data_path, rule.operator, rule.value, payload):
                    return False
            except DataRuleError as error:
                log.warning("Badge %s %s: data rule %s is skipped: %s", kind, self.id, rule.id, error.message)
                return False
        return True


@dataclass(frozen=True)
class CompiledTemplate:
    id: int
    uuid: uuid.UUID
    origin: str
    name: str
    description: str
    image_url: str | None
    course_run_key: str
    organization_key: str
    is_revocable: bool
    requirements: tuple[RequirementRef, ...]
    grouped: tuple[tuple[int, ...], ...] = ()  # the completion groups, computed once

    def __post_init__(self) -> None:
        if not self.grouped:
            object.__setattr__(self, "grouped", tuple(tuple(ids) for ids in groups(self.requirements).values()))

    def in_scope(self, event_type: str, payload: Mapping[str, Any]) -> bool:
        """Whether the event is about this template's course run or organization (any, when unscoped)."""
        if not self.course_run_key and not self.organization_key:
            return True
        keys = rules.course_keys_of(event_type, payload)
        if self.course_run_key and all(str(key) != self.course_run_key for key in keys):
            return False
        return not self.organization_key or any(key.org == self.organization_key for key in keys)


@dataclass(frozen=True)
class TemplateMatch:
    """What one event does to one template: requirements it fulfils, requirements its penalties reset."""

    fulfils: frozenset[int]
    resets: frozenset[int]


@dataclass
class Ruleset:
    """The active templates that listen to some event types, with their requirements and penalties."""

    templates: dict[int, CompiledTemplate] = field(default_factory=dict)
    requirements: dict[str, list[Matcher]] = field(default_factory=dict)  # by event type
    penalties: dict[str, list[Matcher]] = field(default_factory=dict)  # by event type

    def match(self, event_type: str, payload: Mapping[str, Any]) -> dict[int, TemplateMatch]:
        """The templates this event fulfils a requirement of or penalises, by template id."""
        fulfils: dict[int, set[int]] = {}
        resets: dict[int, set[int]] = {}
        in_scope: dict[int, bool] = {}

        def scoped(template_id: int) -> bool:
            if template_id not in in_scope:
                in_scope[template_id] = self.templates[template_id].in_scope(event_type, payload)
            return in_scope[template_id]

        for penalty in self.penalties.get(event_type, ()):
            if scoped(penalty.template_id) and penalty.matches(payload, kind="penalty"):
                resets.setdefault(penalty.template_id, set()).update(penalty.resets)
        for requirement in self.requirements.get(event_type, ()):
            if scoped(requirement.template_id) and requirement.matches(payload, kind="requirement"):
                fulfils.setdefault(requirement.template_id, set()).add(requirement.id)
        return {
            template_id: TemplateMatch(
                fulfils=frozenset(fulfils.get(template_id, ())), resets=frozenset(resets.get(template_id, ()))
            )
            for template_id in fulfils.keys() | resets.keys()
        }


def compile_rule(rule_id: int, *, event_type: str, data_path: str, operator: str, value: str) -> CompiledRule:
    """Parse a stored rule once for every event; a rule that no longer fits is kept with its error."""
    try:
        paths = rules.payload_paths(event_type)
        if data_path not in paths:
            raise DataRuleError(
                f"{data_path!r} is not in the data of {event_type}.", code=BadgesErrorCode.TYPE_MISMATCH
            )
        parsed = rules.parse_value(paths[data_path], operator, value)
    except DataRuleError as error:
        return CompiledRule(id=rule_id, data_path=data_path, operator=operator, value=None, error=error.message)
    return CompiledRule(id=rule_id, data_path=data_path, operator=operator, value=parsed)


class Change(enum.Enum):
    AWARD = "award"
    REVOKE = "revoke"


@dataclass
class LearnerTemplateState:
    """One learner's standing with one template while a batch is applied: fulfilled requirement ids,
    whether the badge is awarded, and what changed."""

    fulfilled: set[int]
    awarded: bool
    reset: set[int] = field(default_factory=set)  # requirements a penalty reset during the batch

    def apply(self, match: TemplateMatch, template: CompiledTemplate) -> Change | None:
        """One event: penalties, then fulfilments, then award or revoke. Returns the badge's change."""
        penalised = self.fulfilled & match.resets
        self.fulfilled -= penalised
        self.reset |= penalised
        self.fulfilled |= match.fulfils
        complete = is_satisfied(template.grouped, self.fulfilled)
        change = None
        if not self.awarded and complete:
            change = Change.AWARD
        elif self.awarded and not complete and penalised and template.is_revocable:
            change = Change.REVOKE
        if change is not None:
            self.awarded = change is Change.AWARD
        return change


def requirement_refs(rows: Iterable[tuple[int, str]]) -> tuple[RequirementRef, ...]:
    return tuple(RequirementRef(id=pk, group=group) for pk, group in rows)
