"""CORS for the CDS Hooks endpoints, for browser-based EHRs (the sandbox sends a preflight
before each POST): allowed origins only, with the Authorization and Content-Type headers."""

import pytest

SANDBOX = "https://sandbox.cds-hooks.org"


@pytest.fixture(autouse=True)
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [SANDBOX]


def preflight(client, path: str, origin: str):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )


@pytest.mark.parametrize(
    "path",
    ["/cds-services", "/cds-services/rls-patient-view", "/cds-services/rls-patient-view/feedback"],
)
def test_a_preflight_from_an_allowed_origin_is_allowed(client, db, path):
    response = preflight(client, path, SANDBOX)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SANDBOX
    assert set(response["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    assert set(response["Access-Control-Allow-Headers"].split(", ")) == {
        "authorization",
        "content-type",
    }
    assert "Access-Control-Allow-Credentials" not in response  # no cookies cross-origin


def test_a_preflight_from_another_origin_gets_no_cors_headers(client, db):
    response = preflight(client, "/cds-services/rls-patient-view", "https://evil.example.org")
    assert "Access-Control-Allow-Origin" not in response


def test_an_allowed_origin_can_read_answers_and_refusals(client, ehr):
    ok = client.get("/cds-services", HTTP_ORIGIN=SANDBOX, **ehr.auth("/cds-services"))
    refused = client.get("/cds-services", HTTP_ORIGIN=SANDBOX)
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert ok["Access-Control-Allow-Origin"] == refused["Access-Control-Allow-Origin"] == SANDBOX


def test_the_rest_of_the_app_sends_no_cors_headers(client, db):
    response = preflight(client, "/patients/", SANDBOX)
    assert "Access-Control-Allow-Origin" not in response
