"""A learner's two records merged (core's identity resolution): their PDFs end on the record with the
LMS id, one per configuration, the more advanced kept."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from apps.catalog.tests.factories import CourseRunFactory
from apps.core.api import User, get_or_create_learner
from apps.credentials.models import UserCredential
from apps.pdf_credentials import services
from apps.pdf_credentials.models import CredentialConfiguration, CredentialType, PdfCredential, PdfStatus
from apps.pdf_credentials.tasks import run_configuration_task

pytestmark = pytest.mark.django_db

PLUGINS = "apps.pdf_credentials.tests.sample_plugins"


@pytest.fixture(autouse=True)
def local_storage(local_pdf_storage: None) -> None:
    """Every test here keeps its files in its own tmp_path."""


@pytest.fixture
def split() -> tuple[User, User, CredentialConfiguration]:
    """LMS user 77 (a grade event's record) and "ada" (the REST grade's), both given a PDF of one
    configuration by a run (both passed the run, each on their own record)."""
    by_id = get_or_create_learner(lms_user_id=77)
    by_name = get_or_create_learner(username="ada", full_name="Ada Lovelace")
    run = CourseRunFactory()
    credential_type = CredentialType.objects.create(
        name="Sample", processor=f"{PLUGINS}.listed_learners", generator=f"{PLUGINS}.text_generator"
    )
    config = CredentialConfiguration.objects.create(
        credential_type=credential_type, course_run_key=run.key, options={"learners": [by_id.pk, by_name.pk]}
    )
    services.sync_periodic_task(configuration_id=config.pk)
    run_configuration_task.delay(config.pk).get()
    assert set(PdfCredential.objects.values_list("user_id", "status")) == {
        (by_id.pk, PdfStatus.GENERATED),
        (by_name.pk, PdfStatus.GENERATED),
    }
    return by_id, by_name, config


def test_of_two_generated_pdfs_the_older_is_kept_and_the_others_file_deleted_after_commit(
    split: tuple[User, User, CredentialConfiguration], client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the username's PDF is the older
    by_id, by_name, config = split
    on_id, on_name = PdfCredential.objects.get(user=by_id), PdfCredential.objects.get(user=by_name)
    PdfCredential.objects.filter(pk=on_name.pk).update(created=on_id.created - datetime.timedelta(days=1))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        user = get_or_create_learner(lms_user_id=77, username="ada")
    # then
    kept = PdfCredential.objects.get()
    assert (kept.pk, kept.user_id, kept.verification_uuid) == (on_name.pk, user.pk, on_name.verification_uuid)
    assert services.pdf_storage().exists(on_name.file_name)
    assert not services.pdf_storage().exists(on_id.file_name)
    assert client.get(f"/credentials/verify/{on_name.verification_uuid}/").status_code == 200
    assert client.get(f"/credentials/verify/{on_id.verification_uuid}/").status_code == 404
    # then: one credential of the configuration (the credentials app's rule)
    assert UserCredential.objects.filter(credential_id=config.pk, user=user).count() == 1


def test_a_generated_pdf_is_kept_over_an_invalidated_one(
    split: tuple[User, User, CredentialConfiguration], django_capture_on_commit_callbacks: Any
) -> None:
    # given: the id's PDF (the older) was invalidated
    by_id, by_name, _ = split
    on_id, on_name = PdfCredential.objects.get(user=by_id), PdfCredential.objects.get(user=by_name)
    with django_capture_on_commit_callbacks(execute=True):
        services.invalidate(pdf_ids=[on_id.pk], reason="Appeal lost.")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        user = get_or_create_learner(lms_user_id=77, username="ada")
    # then
    kept = PdfCredential.objects.get()
    assert (kept.pk, kept.user_id, kept.status) == (on_name.pk, user.pk, PdfStatus.GENERATED)
    assert services.pdf_storage().exists(on_name.file_name)
    assert UserCredential.objects.get(user=user).status == "awarded"
