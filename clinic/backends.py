from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.http import HttpRequest

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length or 150

# Only a bound on memory and a backstop for changes made behind Django's back (raw SQL):
# a change of roles made through Django takes effect on the next request (see below).
PERMISSIONS_TTL_SECONDS = 60


def permissions_key(user_id: int, version: int) -> str:
    return f"permissions:{user_id}:{version}"


class CachedPermissionsBackend(ModelBackend):
    """Django's ModelBackend, with each user's permission set cached.

    Every page checks permissions (the views, the navigation), which costs two queries
    with joins, about a quarter of a simple page's time. The cached set is keyed by the
    user and their account's permissions_version, which every change of roles bumps
    (clinic.signals). The account is loaded with the user on every request (get_user, one
    query with a join), so every worker and host sees a new version on the user's next
    request: the old set is never read again, whatever the cache.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is not None and ("\x00" in username or len(username) > USERNAME_MAX_LENGTH):
            # No account has such a name, and PostgreSQL refuses NUL in a query. Hash the
            # password all the same, as Django does for an unknown name: the time taken
            # says nothing.
            User().set_password(password)
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id: int) -> User | None:
        from clinic.models import Account

        try:
            user = User._default_manager.select_related("account").get(pk=user_id)
        except User.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):  # inactive: every session ends at once
            return None
        try:
            user.account  # noqa: B018  (loaded by the join above; missing for a user made without signals)
        except Account.DoesNotExist:
            Account.objects.get_or_create(user=user)
            user = User._default_manager.select_related("account").get(pk=user_id)
        return user

    def get_all_permissions(self, user_obj: User | AnonymousUser, obj: Any = None) -> set[str]:
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        # Django's ModelBackend keeps the set on the user object for the request; so do we.
        permissions: set[str] | None = user_obj.__dict__.get("_perm_cache")
        if permissions is None:
            key = permissions_key(user_obj.pk, account_of(user_obj).permissions_version)
            permissions = cache.get(key)
            if permissions is None:
                permissions = super().get_all_permissions(user_obj)
                cache.set(key, permissions, PERMISSIONS_TTL_SECONDS)
            user_obj.__dict__["_perm_cache"] = permissions
        return permissions


def account_of(user: User) -> Any:
    from clinic.models import Account

    try:
        return user.account
    except Account.DoesNotExist:
        account, _ = Account.objects.get_or_create(user=user)
        return account
