from django.apps import AppConfig


class BadgesConfig(AppConfig):
    name = "apps.badges"
    label = "badges"
    verbose_name = "Badges: templates, requirements, progress"

    def ready(self) -> None:
        from django.conf import settings

        from apps.eventbus.api import register_batch_handler, register_handler

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            rules,
        )
        from .exceptions import DataRuleError
        from .handlers import handle_badge_event, handle_badge_events

        for event_type in settings.BADGES_EVENT_TYPES:
            try:
                signal = rules.get_signal(event_type)
            except DataRuleError:
                continue  # check badges.E001 names it
            register_handler(signal, handle_badge_event)
            register_batch_handler(signal, handle_badge_events, replaces=handle_badge_event)
