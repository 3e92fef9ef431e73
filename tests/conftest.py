import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache

from tests.base import NOW, ROLES, make_user


def pytest_collection_modifyitems(items):
    """The hostile families (test_hostile*.py) are marked, so that CI's SQLite leg can leave
    them to the PostgreSQL leg (make test-quick)."""
    for item in items:
        if item.path.name.startswith("test_hostile"):
            item.add_marker(pytest.mark.hostile)


@pytest.fixture
def clinician(db) -> User:
    return make_user("clinician", ROLES["clinician"], first_name="Cleo", last_name="Nician")


@pytest.fixture
def staff(db) -> User:
    return make_user("staff", ROLES["staff"])


@pytest.fixture
def guidance_admin(db) -> User:
    return make_user("guidance_admin", ROLES["guidance_admin"])


@pytest.fixture
def outsider(db) -> User:
    return make_user("outsider")


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", password="root-password-1")


@pytest.fixture
def as_user(client):
    """Sign the test client in as the given user and return the client."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached permission sets must not leak from one test's users into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen_clock():
    """The one frozen clock: 26 November 2026, 12:00 UTC (tests.base.NOW), not ticking.
    Yields time-machine's traveller, whose shift() moves it on."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
