from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class FailedSignInQuerySet(models.QuerySet["FailedSignIn"]):
    def recent(self, now: datetime | None = None) -> "FailedSignInQuerySet":
        now = now or timezone.now()
        return self.filter(at__gte=now - timedelta(minutes=settings.SIGNIN_LOCKOUT_MINUTES))

    def is_throttled(self, *, username: str, address: str | None) -> bool:
        recent = self.recent()
        if recent.filter(username=username.lower()).count() >= settings.SIGNIN_FAILURE_LIMIT:
            return True
        return bool(address) and (
            recent.filter(address=address).count() >= settings.SIGNIN_FAILURE_LIMIT_PER_ADDRESS
        )


class FailedSignIn(models.Model):
    """One failed sign-in. Kept in the database so that throttling holds across hosts."""

    username = models.CharField(max_length=150)
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = FailedSignInQuerySet.as_manager()

    class Meta:
        indexes = [
            # FailedSignIn.objects.is_throttled(): failures for a name (or address) since T.
            models.Index(fields=["username", "at"], name="failedsignin_username_at"),
            models.Index(fields=["address", "at"], name="failedsignin_address_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username} at {timezone.localtime(self.at):%Y-%m-%d %H:%M}"
