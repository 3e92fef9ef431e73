from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache

PERMISSIONS_TTL_SECONDS = 60


def permissions_key(user_id: int) -> str:
    return f"permissions:{user_id}"


class CachedPermissionsBackend(ModelBackend):
    """Django's ModelBackend, with each user's permission set cached for a minute.

    Every page checks permissions (the views, the navigation), which costs two queries
    with joins, about a quarter of a simple page's time. The set is dropped when a user's
    groups or a group's permissions change (clinic.signals); on other processes and hosts
    a change takes effect within PERMISSIONS_TTL_SECONDS.
    """

    def get_all_permissions(self, user_obj: User | AnonymousUser, obj: Any = None) -> set[str]:
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        # Django's ModelBackend keeps the set on the user object for the request; so do we.
        permissions: set[str] | None = user_obj.__dict__.get("_perm_cache")
        if permissions is None:
            key = permissions_key(user_obj.pk)
            permissions = cache.get(key)
            if permissions is None:
                permissions = super().get_all_permissions(user_obj)
                cache.set(key, permissions, PERMISSIONS_TTL_SECONDS)
            user_obj.__dict__["_perm_cache"] = permissions
        return permissions
