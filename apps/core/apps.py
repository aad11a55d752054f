from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: users, auth, health"

    def ready(self) -> None:
        from . import checks, schema  # noqa: F401  (register the system checks and the OpenAPI auth scheme)
