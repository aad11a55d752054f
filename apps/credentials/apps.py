from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    label = "credentials"
    verbose_name = "Credentials: certificates, grades"

    def ready(self) -> None:
        from apps.eventbus.api import register_handler

        from . import checks  # noqa: F401  (registers the system checks)
        from .handlers import HANDLERS

        for signal, handler in HANDLERS.items():
            register_handler(signal, handler)
