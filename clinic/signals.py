from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from clinic.backends import permissions_key


def forget_permissions(user_ids: Iterable[int]) -> None:
    cache.delete_many([permissions_key(user_id) for user_id in user_ids])


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
def user_saved(sender: Any, instance: User, **kwargs: Any) -> None:
    forget_permissions([instance.pk])  # is_superuser or is_active may have changed
