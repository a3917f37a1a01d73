"""Shared fixtures: one named user per role, logins that pass the second factor, the
cache reset, and the database backend switch."""

import threading
import time

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from audit.context import Origin, audit_context

PASSWORD = "correct-horse-battery-staple"
# The authenticator secret of every test user's device (hex, as django-otp stores it).
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret

_db_ready = threading.Event()
_plain_login = Client._login


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Passwords hashed at one PBKDF2 iteration for the whole run (tests/hashers.py)."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["tests.hashers.OneIterationPBKDF2PasswordHasher"]):
        yield


def totp_device(user):
    """The user's confirmed TOTP device, made with TEST_TOTP_KEY when it has none."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name="test authenticator", key=TEST_TOTP_KEY, confirmed=True
        )
    return device


def totp_code(user, device=None) -> str:
    """A code the user's device accepts now: the current one, or — when it was already
    used (each code is accepted once) — the next one, which the device's tolerance of one
    step still accepts; waits for the next step when both were used."""
    from django_otp.oath import TOTP, hotp

    device = device or totp_device(user)
    while True:
        device.refresh_from_db()
        now_t = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
        for t in range(now_t, now_t + device.tolerance + 1):
            if t > device.last_t:
                return f"{hotp(device.bin_key, t, digits=device.digits):0{device.digits}d}"
        time.sleep(1)


def verify_session(client, user):
    """Mark the test client's session as verified by the user's TOTP device, as the code
    step (`/accounts/two-factor/`) does after a right code."""
    from django_otp import DEVICE_ID_SESSION_KEY

    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
    session.save()


def login_without_code(client, user):
    """`force_login` that stops before the code step: the session knows the user but is
    not verified (the second-factor tests)."""
    _plain_login(client, user, "django.contrib.auth.backends.ModelBackend")
    return client


def _login_with_second_factor(self, user, backend=None):
    _plain_login(self, user, backend)
    from core.two_factor import requires_two_factors

    if requires_two_factors(user):
        verify_session(self, user)


@pytest.fixture(autouse=True)
def _second_factor_in_test_logins(monkeypatch):
    """`client.login()` and `client.force_login()` of a user whose role logs in with two
    factors give a session verified by a TOTP device (made with TEST_TOTP_KEY), as after
    the code step. The requirement itself stays on: a request of such a user without a
    verified session goes to the code step (`login_without_code` makes one)."""
    monkeypatch.setattr(Client, "_login", _login_with_second_factor)


def _user(username, group=None, *, site=None, **extra):
    """A user of `group` who belongs to `site` (a Facility, a Hospital, or "network")."""
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    if site is not None:
        from tests.factories import site_member

        site_member(user, site)
    return user


def _default_hospital():
    from tests.factories import HospitalFactory

    return HospitalFactory()


def _default_facility():
    from tests.factories import FacilityFactory

    return FacilityFactory(fin="E0001")


def role_user(username, role, site, **extra):
    """A user of `role` at `site` — the way to make users of a second hospital or
    facility (`second_hospital`, `second_facility`): `role_user("pharm2", "pharmacy",
    second_hospital)`. Staff roles (production, qp) get admin access as the fixtures do."""
    if role in ("production", "qp"):
        extra.setdefault("is_staff", True)
    return _user(username, role, site=site, **extra)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's test databases, noting that they exist (for `_fresh_cache`)."""
    _db_ready.set()
    yield


@pytest.fixture(scope="session", autouse=True)
def _access_cache_in_memory():
    """Each user's permissions and sites (`core.access`) are cached in this process's
    memory in the tests, so a test's query counts are those of the application's reads,
    not of the database cache's bookkeeping. Emptied after every test (below)."""
    from django.conf import settings
    from django.test import override_settings

    access = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "access"}
    with override_settings(CACHES={**settings.CACHES, "access": access}):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache(django_db_blocker):
    """Throttle counters live in the cache — the database cache, a table of the test
    database. A test's own rows go with its transaction; a transactional test's stay, so
    the table is emptied after every test once the test databases exist."""
    yield
    from django.core.cache import caches

    caches["access"].clear()
    if _db_ready.is_set():
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def otp_code():
    """`otp_code(user)`: a code the user's authenticator (made if missing) accepts now."""
    return totp_code


# The role fixtures belong to the default sites of the factories: production and the QP
# to the facility E0001 (`BatchFactory`'s), pharmacy and clinicians to the hospital HUS
# (`HospitalFactory()`, every `PatientFactory`'s), the auditor to the whole network.


@pytest.fixture
def production_user(db):
    return _user(
        "prod1",
        "production",
        site=_default_facility(),
        is_staff=True,
        first_name="Pat",
        last_name="Prod",
    )


@pytest.fixture
def qp_user(db):
    return _user(
        "qp1",
        "qp",
        site=_default_facility(),
        is_staff=True,
        first_name="Quinn",
        last_name="Person",
    )


@pytest.fixture
def pharmacist(db):
    return _user(
        "pharm1", "pharmacy", site=_default_hospital(), first_name="Phil", last_name="Macist"
    )


@pytest.fixture
def clinician(db):
    return _user(
        "clin1", "clinician", site=_default_hospital(), first_name="Cleo", last_name="Nician"
    )


@pytest.fixture
def auditor(db):
    return _user("audit1", "auditor", site="network", first_name="Ada", last_name="Auditor")


@pytest.fixture
def second_hospital(db):
    """A second hospital of the network (FJD, patient codes FJD-…), for scoping tests."""
    from tests.factories import HospitalFactory

    return HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")


@pytest.fixture
def fjd(second_hospital):
    """The second hospital by its code, as the shipment tests name it."""
    return second_hospital


@pytest.fixture
def facility(db):
    """The factories' default GMP facility (E0001), where production and the QP work."""
    return _default_facility()


@pytest.fixture
def second_facility(db):
    """A second GMP facility (E0002), for scoping tests."""
    from tests.factories import FacilityFactory

    return FacilityFactory(fin="E0002", name="Second GMP facility")


@pytest.fixture
def make_role_user(db):
    """`make_role_user("pharm2", "pharmacy", second_hospital)`: a user of another site."""
    return role_user


@pytest.fixture
def outsider(db):
    return _user("outsider1")


@pytest.fixture
def system_context():
    """Attribute writes made by test set-up to the system, as a fixture loader would."""
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        yield


requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite has no row locks, so this would pass even for broken code",
)
