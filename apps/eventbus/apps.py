from django.apps import AppConfig


class EventbusConfig(AppConfig):
    name = "apps.eventbus"
    label = "eventbus"
    verbose_name = "Event bus: consumed, parked and outgoing events"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
