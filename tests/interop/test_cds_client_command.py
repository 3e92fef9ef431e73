"""`manage.py cds_client`: EHRs are trusted only once added, with public ES384/RS384 keys
or an allow-listed https key-set URL; removing one refuses its calls and keeps its record.
And `check --deploy` warns when production would trust the public CDS Hooks sandbox."""

import json
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from interop.models import CdsClient
from tests.clinic.test_settings import PRODUCTION, run_manage
from tests.interop.ehr import (
    MRN_SYSTEM,
    Ehr,
    assert_outcome,
    ec_key,
    hook_body,
    key_set,
    patient_resource,
    public_jwk,
)

SANDBOX_JWKS = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("cds_client", *args, stdout=out)
    return out.getvalue()


def jwks_file(tmp_path, data) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def add(tmp_path, data, *extra) -> str:
    system = [] if "--mrn-system" in extra else ["--mrn-system", "urn:oid:1.2.3"]
    return run(
        "add", "--iss", "https://ehr.example.org", "--name", "Epic test",
        "--jwks-file", jwks_file(tmp_path, data), *system, *extra,
    )  # fmt: skip


def test_an_ehr_is_added_listed_and_removed_with_its_record_kept(tmp_path, client):
    assert run("list") == "No EHR is registered.\n"
    added = add(tmp_path, key_set(), "--mrn-system", "urn:oid:1.2.3")
    assert "Registered Epic test (https://ehr.example.org)" in added
    ehr = CdsClient.objects.get()
    assert (ehr.active, ehr.mrn_system, ehr.jwks) == (True, "urn:oid:1.2.3", key_set())
    assert not ehr.user.is_active
    assert not ehr.user.has_usable_password()
    assert not ehr.user.groups.exists()
    assert not ehr.user.is_staff
    listed = run("list")
    assert "ec-1 (ES384), rsa-1 (RS384)" in listed
    assert "active" in listed
    assert public_jwk(ec_key(), "ec-1", "ES384")["x"] not in listed  # never key material
    assert Ehr(ehr).get(client, "/cds-services").status_code == 200

    assert "its calls are refused" in run("remove", "--iss", "https://ehr.example.org")
    ehr.refresh_from_db()
    assert not ehr.active
    assert ehr.deactivated_at is not None
    assert "removed" in run("list")
    assert_outcome(Ehr(ehr).get(client, "/cds-services"), 401, "issuer")

    add(tmp_path, key_set())  # added again: the same record and account, active
    renewed = CdsClient.objects.get()
    assert (renewed.pk, renewed.user, renewed.active) == (ehr.pk, ehr.user, True)


def test_adding_an_active_issuer_again_changes_nothing_without_replace(tmp_path):
    add(tmp_path, key_set())
    other = {"keys": [public_jwk(ec.generate_private_key(ec.SECP384R1()), "new-1", "ES384")]}
    with pytest.raises(CommandError, match="already registered and active.*--replace"):
        add(tmp_path, other, "--mrn-system", "urn:oid:9.9")
    kept = CdsClient.objects.get()
    assert (kept.jwks, kept.mrn_system) == (key_set(), "urn:oid:1.2.3")

    said = add(tmp_path, other, "--mrn-system", "urn:oid:9.9", "--replace")
    assert "Replaced Epic test" in said
    assert "keys ec-1 (ES384), rsa-1 (RS384) are now new-1 (ES384)" in said
    assert "MRN system urn:oid:1.2.3 is now urn:oid:9.9" in said
    replaced = CdsClient.objects.get()
    assert (replaced.pk, replaced.jwks, replaced.mrn_system) == (kept.pk, other, "urn:oid:9.9")


@pytest.mark.parametrize("system", [None, "", "no-scheme", "urn:oid:1 2", "urn:" + "x" * 300])
def test_an_ehr_is_not_added_without_a_usable_mrn_system(tmp_path, system):
    args = ["add", "--iss", "https://ehr.example.org", "--name", "Epic test"]
    args += ["--jwks-file", jwks_file(tmp_path, key_set())]
    with pytest.raises(CommandError, match="mrn-system"):
        run(*args, *([] if system is None else ["--mrn-system", system]))
    assert not CdsClient.objects.exists()


def test_an_mrn_system_is_set_on_a_client_registered_without_one(client, seeded):
    """Clients registered before the system was required get no cards until it is set."""
    ehr = Ehr(CdsClient.register(iss="https://ehr.example.org", name="Old", jwks=key_set()))
    body = hook_body(patient=patient_resource("RLS-0042"))
    path = "/cds-services/rls-patient-view"
    assert ehr.post(client, path, body).json()["cards"] == []
    assert "no MRN system (gets no cards)" in run("list")
    said = run("set-mrn-system", "--iss", "https://ehr.example.org", "--mrn-system", MRN_SYSTEM)
    assert f"MRN system (none) is now {MRN_SYSTEM}" in said
    assert ehr.post(client, path, body).json()["cards"]
    with pytest.raises(CommandError, match="No active EHR"):
        run("set-mrn-system", "--iss", "https://nobody.example.org", "--mrn-system", "urn:x")


def test_a_key_set_with_a_private_key_is_refused(tmp_path):
    leaked = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key()))
    with pytest.raises(CommandError, match="private key material"):
        add(tmp_path, {"keys": [{**leaked, "kid": "ec-1"}]})
    assert not CdsClient.objects.exists()


def rsa_jwk(bits: int) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)), "kid": "r"}


def p256_jwk() -> dict:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key)), "kid": "p"}


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("not json", "not a readable JSON file"),
        ({"keys": []}, "non-empty"),
        ([public_jwk(ec_key(), "ec-1", "ES384")], "non-empty"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "private key material"),
        ({"keys": [{**public_jwk(ec_key(), "ec-1", "ES384"), "kid": ""}]}, "no key id"),
        (
            {"keys": [public_jwk(ec_key(), "a", "ES384"), public_jwk(ec_key(), "a", "ES384")]},
            "twice",
        ),
        (
            {"keys": [{**public_jwk(ec_key(), "ec-1", "ES384"), "alg": "ES256"}]},
            "must be for ES384",
        ),
        ({"keys": [{**public_jwk(ec_key(), "ec-1", "ES384"), "use": "enc"}]}, "not a signing key"),
        ({"keys": [p256_jwk()]}, "P-384"),
        ({"keys": [rsa_jwk(1024)]}, "2048 bits"),
        ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "o"}]}, "not EC"),
        (
            {"keys": [{"kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA", "kid": "bad"}]},
            "usable",
        ),
    ],
)
def test_a_key_set_that_is_not_public_es384_or_rs384_keys_is_refused(tmp_path, data, says):
    with pytest.raises(CommandError, match=says):
        add(tmp_path, data)
    assert not CdsClient.objects.exists()


def test_a_key_set_url_must_be_https_and_allow_listed(settings):
    settings.CDS_JWKS_URL_ALLOWLIST = ["https://keys.example.org/jwks.json", "http://plain.example"]
    base = ["add", "--iss", "https://ehr.example.org", "--name", "Epic test"]
    base += ["--mrn-system", "urn:oid:1.2.3", "--jwks-url"]
    with pytest.raises(CommandError, match="not on DJANGO_CDS_JWKS_URLS"):
        run(*base, "https://evil.example.org/jwks.json")
    with pytest.raises(CommandError, match="https"):
        run(*base, "http://plain.example")
    assert not CdsClient.objects.exists()
    run(*base, "https://keys.example.org/jwks.json")
    assert CdsClient.objects.get().jwks_url == "https://keys.example.org/jwks.json"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--iss", "has space", "--name", "X"], "no spaces"),
        (["--iss", "https://a.example", "--name", " "], "--name"),
    ],
)
def test_an_issuer_and_a_name_are_required(tmp_path, args, says):
    with pytest.raises(CommandError, match=says):
        run("add", *args, "--jwks-file", jwks_file(tmp_path, key_set()), "--mrn-system", "urn:x")


def test_removing_an_unknown_ehr_says_so():
    with pytest.raises(CommandError, match="No active EHR"):
        run("remove", "--iss", "https://nobody.example.org")


# Production never trusts the sandbox


@pytest.fixture(autouse=True)
def production_smart(settings):
    """As in production: the tests' own SMART EHR on plain http is a test setting."""
    settings.SMART_ALLOW_LOOPBACK_HTTP = False


def deploy_check() -> None:
    call_command("check", deploy=True, tags=["cds"], fail_level="WARNING", stdout=StringIO())


def test_check_deploy_warns_about_an_active_sandbox_client(settings):
    settings.PUBLIC_BASE_URL = "https://rls.example.org"
    deploy_check()  # nothing to say
    CdsClient.register(
        iss="https://sandbox.cds-hooks.org",
        name="Sandbox",
        jwks_url=SANDBOX_JWKS,
        mrn_system="urn:oid:1.2.3",
    )
    with pytest.raises(SystemCheckError, match="interop.W001"):
        deploy_check()
    CdsClient.objects.get().deactivate()
    deploy_check()


def test_check_deploy_names_an_active_client_without_an_mrn_system(settings):
    settings.PUBLIC_BASE_URL = "https://rls.example.org"
    client = CdsClient.register(iss="https://ehr.example.org", name="Old Epic", jwks=key_set())
    with pytest.raises(SystemCheckError, match=r"(?s)interop.W005.*Old Epic"):
        deploy_check()
    client.mrn_system = "urn:oid:1.2.3"
    client.save()
    deploy_check()


def test_check_deploy_says_when_there_is_no_public_address(settings):
    settings.PUBLIC_BASE_URL = ""
    with pytest.raises(SystemCheckError, match="interop.W006"):
        deploy_check()


@pytest.mark.parametrize(
    ("setting", "value", "warning"),
    [
        ("CDS_JWKS_URL_ALLOWLIST", [SANDBOX_JWKS], "interop.W002"),
        ("CORS_ALLOWED_ORIGINS", ["https://sandbox.cds-hooks.org"], "interop.W003"),
        ("PUBLIC_BASE_URL", "http://rls.example.org", "interop.W004"),
        ("SMART_ALLOW_LOOPBACK_HTTP", True, "interop.W007"),
    ],
)
def test_check_deploy_warns_about_sandbox_settings_and_plain_http(
    settings, setting, value, warning
):
    settings.PUBLIC_BASE_URL = "https://rls.example.org"
    setattr(settings, setting, value)
    with pytest.raises(SystemCheckError, match=warning):
        deploy_check()


def test_production_settings_trust_no_sandbox_and_check_deploy_stays_clean():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    shown = run_manage(
        "shell", "--no-imports", "-c",
        "from django.conf import settings as s; "
        "print(s.CDS_JWKS_URL_ALLOWLIST, s.CORS_ALLOWED_ORIGINS)",
        **PRODUCTION,
    )  # fmt: skip
    assert shown.stdout.strip() == "[] []", shown.stderr
    sandbox = PRODUCTION | {"DJANGO_CDS_JWKS_URLS": SANDBOX_JWKS}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **sandbox)
    assert result.returncode != 0
    assert "interop.W002" in result.stderr


def test_make_run_trusts_the_sandbox_for_development():
    shown = run_manage(
        "shell", "--no-imports", "-c",
        "from django.conf import settings as s; "
        "print(s.PUBLIC_BASE_URL, s.CDS_JWKS_URL_ALLOWLIST, s.CORS_ALLOWED_ORIGINS)",
        DJANGO_DEBUG="1",
    )  # fmt: skip
    assert shown.stdout.strip() == (
        "http://127.0.0.1:8000 ['https://sandbox.cds-hooks.org/.well-known/jwks.json'] "
        "['https://sandbox.cds-hooks.org']"
    ), shown.stderr


@pytest.mark.parametrize("value", ["rls.example.org", "ftp://rls.example.org", "https://x.org/app"])
def test_a_public_address_with_a_path_or_another_scheme_stops_the_start(value):
    result = run_manage("check", **(PRODUCTION | {"DJANGO_PUBLIC_BASE_URL": value}))
    assert result.returncode != 0
    assert "DJANGO_PUBLIC_BASE_URL must be a scheme and host" in result.stderr


def test_the_admin_shows_a_clients_key_ids_never_its_keys(client, superuser, tmp_path):
    add(tmp_path, key_set())
    ehr = CdsClient.objects.get()
    client.force_login(superuser)
    listing = client.get("/admin/interop/cdsclient/")
    page = client.get(f"/admin/interop/cdsclient/{ehr.pk}/change/")
    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        assert "ec-1 (ES384), rsa-1 (RS384)" in response.content.decode()
        for key in key_set()["keys"]:
            assert (key.get("x") or key["n"]) not in response.content.decode()
    assert client.post(f"/admin/interop/cdsclient/{ehr.pk}/change/", {}).status_code == 403
