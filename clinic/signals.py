"""Receivers: every user has an account; a change of roles bumps the account's
permissions_version (clinic.backends); a sign-in records its time (clinic.middleware)."""

import time
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from clinic import sessions
from clinic.models import Account


def forget_permissions(user_ids: Iterable[int]) -> None:
    Account.bump_permissions(list(user_ids))


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
def user_permissions_changed(
    sender: Any,
    instance: User | Group | Permission,
    action: str,
    pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, User):
        forget_permissions([instance.pk])
    elif isinstance(instance, Group):  # group.user_set changed
        forget_permissions(pk_set or instance.user_set.values_list("pk", flat=True))
    else:  # permission.user_set changed
        forget_permissions(pk_set or [])


@receiver(m2m_changed, sender=Group.permissions.through)
def group_permissions_changed(
    sender: Any, instance: Group | Permission, action: str, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    groups = (
        [instance] if isinstance(instance, Group) else Group.objects.filter(pk__in=pk_set or [])
    )
    forget_permissions(User.objects.filter(groups__in=groups).values_list("pk", flat=True))


@receiver(post_save, sender=User)
def user_saved(
    sender: Any, instance: User, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    if created:
        Account.objects.get_or_create(user=instance)
    elif update_fields is None or set(update_fields) - {"last_login", "password"}:
        forget_permissions([instance.pk])  # is_superuser or is_active may have changed


@receiver(user_logged_in)
def signed_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[sessions.SIGNED_IN_AT] = int(time.time())
