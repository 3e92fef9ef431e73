"""Accounts: a small profile beside Django's user, the audit trail of what superusers
did to accounts, and the one-time codes with which a person enrols a second factor."""

import hashlib
import hmac
import secrets
from datetime import timedelta
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
        ENROLMENT_CODE_ISSUED = "enrolment_code_issued", "Enrolment code issued"
        ENROLMENT_CODE_USED = "enrolment_code_used", "Enrolment code used"
        SIGN_IN_FAILURES_CLEARED = "sign_in_failures_cleared", "Sign-in failures cleared"

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
        EnrolmentCode.objects.filter(user_id=self.user_id, used_at__isnull=True).delete()
        self.record(AccountEvent.Action.DEACTIVATED, by=by)

    @transaction.atomic
    def clear_sign_in_failures(self, *, by: User) -> None:
        """Lift the account's lock-outs at once (every address's failures for its user
        name), for an owner kept out by someone guessing. The failures are deleted from
        django-axes' counts; the event says how many there were."""
        from axes.models import AccessAttempt
        from axes.utils import reset

        username = self.user.get_username()
        addresses = AccessAttempt.objects.filter(username=username).count()
        reset(username=username)
        self.record(
            AccountEvent.Action.SIGN_IN_FAILURES_CLEARED,
            by=by,
            detail=f"failures from {addresses} address(es)",
        )

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


def _digest(code: str) -> str:
    return hashlib.sha256(normalise_enrolment_code(code).encode()).hexdigest()


def normalise_enrolment_code(code: str) -> str:
    """As typed, in any case, with or without its dashes and spaces."""
    return "".join(character for character in code.upper() if character.isalnum())


class EnrolmentCode(models.Model):
    """A one-time code with which a person whose role requires two-factor sign-in, and who
    has no authenticator yet, signs in to enrol one: issued by a superuser on the account
    review page and handed over in person, it proves the enrolment is theirs, not the first
    person's who knows the password.

    Stored as a SHA-256 digest only (the code is 80 random bits: no salt or slow hash is
    needed against guessing a digest). Single use; a new code replaces any earlier one;
    it expires after TWO_FACTOR_ENROLMENT_HOURS (72)."""

    ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out and typed
    LENGTH = 16  # 32^16 = 2^80

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolment_codes"
    )
    digest = models.CharField(max_length=64, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"enrolment code of {self.user_id}, issued {self.issued_at:%Y-%m-%d %H:%M}"

    @classmethod
    @transaction.atomic
    def issue(cls, user: User, *, by: User) -> str:
        """A new code for `user`, shown once to the superuser; any earlier unused one is
        withdrawn."""
        cls.objects.filter(user=user, used_at__isnull=True).delete()
        code = "".join(secrets.choice(cls.ALPHABET) for _ in range(cls.LENGTH))
        now = timezone.now()
        hours = settings.TWO_FACTOR_ENROLMENT_HOURS
        cls.objects.create(
            user=user,
            digest=_digest(code),
            issued_by=by,
            issued_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        Account.objects.get_or_create(user=user)[0].record(
            AccountEvent.Action.ENROLMENT_CODE_ISSUED, by=by, detail=f"valid {hours} h"
        )
        return "-".join(code[i : i + 4] for i in range(0, cls.LENGTH, 4))

    @classmethod
    @transaction.atomic
    def redeem(cls, user: User, code: str) -> bool:
        """Use up `user`'s code if `code` is it and it is still valid; whether it was."""
        now = timezone.now()
        current = (
            cls.objects.select_for_update()
            .filter(user=user, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if current is None or not hmac.compare_digest(current.digest, _digest(code)):
            return False
        current.used_at = now
        current.save(update_fields=["used_at"])
        Account.objects.get_or_create(user=user)[0].record(
            AccountEvent.Action.ENROLMENT_CODE_USED, by=user
        )
        return True


class LinkAttempt(models.Model):
    """A failed try at a patient's questionnaire link (patients.invitations): an unknown
    or closed link, or a wrong date of birth. Counted by address (clinic.throttling's
    throttled_address) to slow guessing from one place; never linked to a patient."""

    address = models.CharField(max_length=45)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["address", "at"], name="linkattempt_address_at")]

    def __str__(self) -> str:
        return f"Failed link try from {self.address} at {self.at:%Y-%m-%d %H:%M}"
