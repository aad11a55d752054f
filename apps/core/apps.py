from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: users, auth, health"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
