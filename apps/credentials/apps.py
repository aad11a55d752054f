from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    label = "credentials"
    verbose_name = "Credentials: certificates, grades"

    def ready(self) -> None:
        from apps.core.api import register_learner_merge
        from apps.eventbus.api import register_batch_handler, register_handler

        from . import checks  # noqa: F401  (registers the system checks)
        from .handlers import BATCH_HANDLERS, HANDLERS
        from .learner_merge import merge_learner_records

        # One learner's two records merged by core's identity resolution: their credentials and grades.
        register_learner_merge(merge_learner_records)

        for signal, handler in HANDLERS.items():
            register_handler(signal, handler)
        for signal, batch_handler in BATCH_HANDLERS.items():
            register_batch_handler(signal, batch_handler, replaces=HANDLERS[signal])
