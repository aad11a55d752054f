from django.apps import AppConfig


class IssuingConfig(AppConfig):
    """Issuing badges on Credly and Accredible. Installed only when CREDLY_ENABLED or ACCREDIBLE_ENABLED."""

    name = "apps.badges.issuing"
    label = "badge_issuing"
    verbose_name = "Badges: issuing services (Credly, Accredible)"

    def ready(self) -> None:
        from openedx_events.learning.signals import BADGE_AWARDED, BADGE_REVOKED

        from apps.eventbus.api import register_handler

        from . import checks  # noqa: F401  (registers the system checks)
        from .handlers import handle_badge_awarded, handle_badge_revoked

        register_handler(BADGE_AWARDED, handle_badge_awarded)
        register_handler(BADGE_REVOKED, handle_badge_revoked)
