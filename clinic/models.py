"""Accounts: a small profile beside Django's user, and the audit trail of what superusers
did to accounts."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone


class AccountEvent(models.Model):
    """One thing a superuser did to an account (or a person to their own). Never changed."""

    class Action(models.TextChoices):
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        SECOND_FACTOR_RESET = "second_factor_reset", "Second factor reset"
        SECOND_FACTOR_ENROLLED = "second_factor_enrolled", "Second factor set up"
        PASSWORD_CHANGE_FORCED = "password_change_forced", "Password change required"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        ROLE_CHANGED = "role_changed", "Role changed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=30, choices=Action.choices)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The account review page: the latest events, newest first.
            models.Index(fields=["-at", "-id"], name="accountevent_at"),
        ]

    def __str__(self) -> str:
        at = timezone.localtime(self.at)
        return f"{self.get_action_display()}: {self.user_id} by {self.by_id} at {at:%Y-%m-%d %H:%M}"


class Account(models.Model):
    """What the app keeps about a user beyond Django's own fields. Loaded with the user on
    every request (clinic.backends.CachedPermissionsBackend.get_user), so reading it costs
    no query.

    permissions_version is part of the key of the cached permission set: bumping it (on
    any change of roles, clinic.signals) makes every worker compute the set afresh on the
    user's next request.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    must_change_password = models.BooleanField(default=False)
    permissions_version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"account of {self.user_id}"

    @staticmethod
    def bump_permissions(user_ids: "list[int] | models.QuerySet[Any]") -> None:
        Account.objects.filter(user_id__in=user_ids).update(
            permissions_version=F("permissions_version") + 1
        )

    def record(self, action: AccountEvent.Action, *, by: User, detail: str = "") -> AccountEvent:
        return AccountEvent.objects.create(user=self.user, by=by, action=action, detail=detail)

    @transaction.atomic
    def deactivate(self, *, by: User) -> None:
        """Sign-in refused and every session ended at once: Django's backend refuses an
        inactive user's session on its next request. Nothing is deleted."""
        User.objects.filter(pk=self.user_id).update(is_active=False)
        self.user.is_active = False
        Account.bump_permissions([self.user_id])
        self.record(AccountEvent.Action.DEACTIVATED, by=by)

    @transaction.atomic
    def reactivate(self, *, by: User) -> None:
        User.objects.filter(pk=self.user_id).update(is_active=True)
        self.user.is_active = True
        Account.bump_permissions([self.user_id])
        self.record(AccountEvent.Action.REACTIVATED, by=by)

    @transaction.atomic
    def force_password_change(self, *, by: User) -> None:
        Account.objects.filter(pk=self.pk).update(must_change_password=True)
        self.must_change_password = True
        self.record(AccountEvent.Action.PASSWORD_CHANGE_FORCED, by=by)

    @transaction.atomic
    def password_changed(self) -> None:
        Account.objects.filter(pk=self.pk).update(must_change_password=False)
        self.must_change_password = False
        self.record(AccountEvent.Action.PASSWORD_CHANGED, by=self.user)

    @transaction.atomic
    def set_role(self, group: Group | None, *, by: User) -> None:
        """One role (or none) in place of the current ones; the permission cache follows
        through the groups' m2m signal."""
        before = ", ".join(self.user.groups.values_list("name", flat=True)) or "no role"
        self.user.groups.set([group] if group else [])
        after = group.name if group else "no role"
        self.record(AccountEvent.Action.ROLE_CHANGED, by=by, detail=f"{before} → {after}")

    @transaction.atomic
    def reset_second_factor(self, *, by: User) -> None:
        """Remove every authenticator and recovery code: the user signs in with the password
        alone next time, and is taken to enrolment if their role requires it."""
        from clinic import two_factor

        removed = two_factor.remove_devices(self.user)
        self.record(
            AccountEvent.Action.SECOND_FACTOR_RESET, by=by, detail=f"{removed} device(s) removed"
        )
