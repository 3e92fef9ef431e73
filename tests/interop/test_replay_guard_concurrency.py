"""The same token presented to two hosts at once (two connections to one PostgreSQL): one
succeeds, the other is told it was used before. The guard is the database's unique
constraint, not any process's memory."""

import pytest
from django.db import connection
from django.test import Client

from interop.models import SeenToken
from tests.interop.ehr import Ehr, register
from tests.robustness.test_concurrency import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency: PostgreSQL"),
]


@pytest.mark.parametrize("attempt", range(3))
def test_a_token_replayed_to_two_hosts_at_once_is_accepted_once(attempt):
    ehr = Ehr(register())
    authorization = ehr.auth("/cds-services")

    def host():
        return Client().get("/cds-services", **authorization).status_code

    assert sorted(race(host, host, host)) == [200, 401, 401]
    assert SeenToken.objects.count() == 1
