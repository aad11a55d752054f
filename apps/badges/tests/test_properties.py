"""Properties of the badge processor, through `services.process_badge_events` on the real database: for
any template shape (AND of OR groups, a penalty per requirement, revocable or not) and any sequence of
passing and failing statuses for a few learners, applied in any split into batches, after every batch

- a revocable badge is awarded exactly when the AND of ORs of the fulfilled requirements holds, and
  any other badge exactly when it ever held;
- each learner's published events alternate BADGE_AWARDED / BADGE_REVOKED starting with an award, one
  per flip of that state, event by event (a batch boundary changes nothing);
- the learner's Fulfillment rows are the requirements fulfilled now.

What the processor does is compared with a model of a few lines kept here: a set of fulfilled
requirements per learner, a failing status removing its run's requirement (penalties first), a passing
one adding it.

Each example runs in a transaction of its own (hypothesis.extra.django.TestCase), so the examples
never see each other's rows. Derandomized: CI runs the same examples every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from openedx_events.learning.data import BadgeData, UserData
from openedx_events.learning.signals import BADGE_AWARDED, BADGE_REVOKED

from apps.badges.models import BadgeTemplate, Fulfillment
from apps.badges.tests.scenarios import badge_of, course_template, passing, process, published
from apps.credentials.models import CredentialStatus
from apps.credentials.tests.factories import UserDataFactory

AWARDED, REVOKED = BADGE_AWARDED.event_type, BADGE_REVOKED.event_type
RUN_POOL = tuple(f"course-v1:OrgP+C{n}+R1" for n in range(12))
STRAY_RUN = "course-v1:OrgQ+Stray+R1"  # no template listens to it
# Names a group key could be confused with: case, the "#<id>" of an unnamed group, the "g:" prefix.
GROUP_NAMES = ("a", "A", "either", "#1", "g:a", "Ωmega")


@dataclass(frozen=True)
class Step:
    """Learner `learner` passes (or fails) run `run`: requirement `run`'s run, or the stray run when
    `run` is the number of requirements."""

    learner: int
    run: int
    is_passing: bool


@dataclass(frozen=True)
class Scenario:
    groups: tuple[str, ...]  # requirement i ("pass run i", reset by "fail run i") is in groups[i]; "" = its own
    is_revocable: bool
    learners: int
    steps: tuple[Step, ...]
    batches: tuple[int, ...]  # the sizes of consecutive process() calls, summing to len(steps)


@dataclass
class LearnerModel:
    """What the processor should make of one learner's events."""

    groups: list[set[int]]
    is_revocable: bool
    fulfilled: set[int] = field(default_factory=set)
    awarded: bool = False
    flips: list[str] = field(default_factory=list)  # the badge events it should publish, in order

    def apply(self, step: Step) -> None:
        if step.run >= sum(len(group) for group in self.groups):
            return  # the stray run
        # Penalties, then fulfilments: a failing status resets the run's requirement, a passing one fulfils it.
        if not step.is_passing:
            self.fulfilled.discard(step.run)
        if step.is_passing:
            self.fulfilled.add(step.run)
        complete = all(group & self.fulfilled for group in self.groups)
        if complete and not self.awarded:
            self.awarded = True
            self.flips.append(AWARDED)
        elif self.awarded and not complete and self.is_revocable:
            self.awarded = False
            self.flips.append(REVOKED)


def model_groups(groups: tuple[str, ...]) -> list[set[int]]:
    """The AND of ORs: requirement indices by group, an unnamed one on its own."""
    named: dict[str, set[int]] = {}
    alone: list[set[int]] = []
    for index, group in enumerate(groups):
        if group:
            named.setdefault(group, set()).add(index)
        else:
            alone.append({index})
    return [*named.values(), *alone]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # 1 to 4 groups of 1 to 3 requirements; a one-requirement group may be unnamed (a group of its own);
    # the requirements' order shuffled, so that groups interleave.
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    names = draw(st.lists(st.sampled_from(GROUP_NAMES), min_size=len(sizes), max_size=len(sizes), unique=True))
    groups: list[str] = []
    for size, name in zip(sizes, names, strict=True):
        groups += [""] if size == 1 and draw(st.booleans()) else [name] * size
    shuffled = tuple(draw(st.permutations(groups)))
    is_revocable = draw(st.sampled_from([True, True, False]))
    learners = draw(st.integers(1, 3))
    group_members = model_groups(shuffled)
    # Single statuses; and, so that awards and revocations are common, moves that complete the template
    # for a learner (a passing status for one requirement of each group, in any order) and moves that
    # leave a group unsatisfied (a failing status for each of its requirements).
    single = st.builds(
        lambda learner, run, is_passing: [Step(learner, run, is_passing)],
        st.integers(0, learners - 1),
        st.integers(0, len(shuffled)),  # len(shuffled): the stray run
        st.sampled_from([True, True, False]),
    )
    completing = st.builds(
        lambda learner, runs: [Step(learner, run, True) for run in runs],
        st.integers(0, learners - 1),
        st.tuples(*(st.sampled_from(sorted(members)) for members in group_members)).flatmap(st.permutations),
    )
    unsatisfying = st.builds(
        lambda learner, runs: [Step(learner, run, False) for run in runs],
        st.integers(0, learners - 1),
        st.sampled_from(group_members).flatmap(lambda members: st.permutations(sorted(members))),
    )
    moves = draw(st.lists(st.one_of(single, completing, unsatisfying), min_size=1, max_size=12))
    steps = [step for move in moves for step in move][:25]
    # Where the batches end: after step i when cut[i].
    cuts = draw(st.lists(st.sampled_from([False, False, True]), min_size=len(steps) - 1, max_size=len(steps) - 1))
    batches, size = [], 1
    for cut in cuts:
        if cut:
            batches.append(size)
            size = 0
        size += 1
    batches.append(size)
    return Scenario(
        groups=shuffled,
        is_revocable=is_revocable,
        learners=learners,
        steps=tuple(steps),
        batches=tuple(batches),
    )


def in_batches(scenario: Scenario) -> Iterator[list[Step]]:
    steps = iter(scenario.steps)
    for size in scenario.batches:
        yield [next(steps) for _ in range(size)]


class BadgeProcessorPropertiesTest(TestCase):
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(scenarios())
    # A penalty then a pass of the same run in one batch: revoked and awarded again, one fulfilment left.
    @example(
        Scenario(
            groups=("",),
            is_revocable=True,
            learners=1,
            steps=(Step(0, 0, True), Step(0, 0, False), Step(0, 0, True)),
            batches=(1, 2),
        )
    )
    # Two requirements in one group (either will do) and one of its own: resetting one of the pair
    # keeps the badge; resetting both revokes it.
    @example(
        Scenario(
            groups=("a", "", "a"),
            is_revocable=True,
            learners=1,
            steps=(
                Step(0, 0, True),
                Step(0, 1, True),
                Step(0, 2, True),
                Step(0, 0, False),
                Step(0, 2, False),
                Step(0, 3, False),
            ),
            batches=(2, 2, 1, 1),
        )
    )
    # Two learners interleaved in one batch on a non-revocable template: awarded once, kept after a reset.
    @example(
        Scenario(
            groups=("x", "x"),
            is_revocable=False,
            learners=2,
            steps=(Step(0, 1, True), Step(1, 0, False), Step(0, 1, False), Step(1, 0, True), Step(0, 0, True)),
            batches=(5,),
        )
    )
    def test_award_state_is_the_and_of_ors_of_fulfilled_requirements(self, scenario: Scenario) -> None:
        # given
        runs = RUN_POOL[: len(scenario.groups)]
        template, requirement_ids = course_template(
            *runs, groups=list(scenario.groups), is_revocable=scenario.is_revocable, penalties=True
        )
        learners = [UserDataFactory() for _ in range(scenario.learners)]
        models = [
            LearnerModel(groups=model_groups(scenario.groups), is_revocable=scenario.is_revocable) for _ in learners
        ]
        for batch in in_batches(scenario):
            # when
            process(
                *(
                    passing(learners[step.learner], (*runs, STRAY_RUN)[step.run], is_passing=step.is_passing)
                    for step in batch
                )
            )
            for step in batch:
                models[step.learner].apply(step)
            # then
            events = published()
            for learner, model in zip(learners, models, strict=True):
                self.assert_learner_matches(learner, model, template=template, requirement_ids=requirement_ids)
                self.assert_events_match(learner, model, events=events, template=template)

    def assert_learner_matches(
        self, learner: UserData, model: LearnerModel, *, template: BadgeTemplate, requirement_ids: list[int]
    ) -> None:
        badge = badge_of(learner, template)
        awarded = badge is not None and badge.status == CredentialStatus.AWARDED
        assert awarded == model.awarded, f"learner {learner.id}: fulfilled {sorted(model.fulfilled)}"
        fulfillments = Fulfillment.objects.filter(progress__user__lms_user_id=learner.id, progress__template=template)
        assert set(fulfillments.values_list("requirement_id", flat=True)) == {
            requirement_ids[index] for index in model.fulfilled
        }

    def assert_events_match(
        self, learner: UserData, model: LearnerModel, *, events: list[tuple[str, BadgeData]], template: BadgeTemplate
    ) -> None:
        mine = [(event_type, data) for event_type, data in events if data.user.id == learner.id]
        event_types = [event_type for event_type, _ in mine]
        assert event_types == [AWARDED if index % 2 == 0 else REVOKED for index in range(len(event_types))]
        assert event_types == model.flips
        if mine:
            badge = badge_of(learner, template)
            assert badge is not None
            assert {(data.uuid, data.template.uuid) for _, data in mine} == {(str(badge.uuid), str(template.uuid))}
