from __future__ import annotations

import factory

from apps.catalog.tests.factories import ProgramFactory
from apps.core.tests.factories import UserFactory
from apps.records.models import ProgramRecordShare


class ProgramRecordShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgramRecordShare

    user = factory.SubFactory(UserFactory)
    program = factory.SubFactory(ProgramFactory)
