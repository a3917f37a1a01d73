"""Two gunicorn servers on one PostgreSQL database are one system: a throttle counted on
one holds on the other, a lockout made through one is refused by the other, a session
opened on one is valid on the other."""

import re

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.db import connection

from tests.conftest import PASSWORD, requires_postgres
from tests.security.servers import environment, gunicorn

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    requires_postgres,
    pytest.mark.django_db(transaction=True),
]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def api_login(base, username, password, address):
    return requests.post(
        f"{base}/api/v1/auth/login/",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=30,
    )


def test_two_servers_share_throttles_lockouts_and_sessions(tmp_path):
    user = User.objects.create_user("shared1", password=PASSWORD, first_name="Sam")
    user.groups.add(Group.objects.get(name="auditor"))
    env = environment(
        DATABASE_URL=database_url(),
        # Each request names its client through our "proxy", so the three parts of the
        # test count different clients.
        TRUSTED_PROXY_COUNT=1,
        API_LOGIN_RATE="3/min",
        LOGIN_FAILURE_LIMIT=4,
    )
    with (
        gunicorn(env, log=tmp_path / "a.log") as a,
        gunicorn(env, log=tmp_path / "b.log") as b,
    ):
        # The login throttle: three attempts spread over both servers, the fourth refused.
        for i, base in enumerate((a, b, a)):
            assert api_login(base, f"ghost{i}", "wrong", "10.0.0.1").status_code == 400
        throttled = api_login(b, "ghost9", "wrong", "10.0.0.1")
        assert throttled.status_code == 429
        assert "throttled" in throttled.json()["detail"].lower()

        # The lockout: failures through both servers lock the account everywhere.
        for i, base in enumerate((a, b, a)):
            assert api_login(base, "shared1", "wrong", f"10.0.1.{i}").status_code == 400
        assert api_login(b, "shared1", "wrong", "10.0.1.3").status_code == 429
        refused = api_login(a, "shared1", PASSWORD, "10.0.1.4")
        assert refused.status_code == 429
        assert "Too many failed logins" in refused.json()["detail"]
        assert refused.json()["locked_until"]

        # The session: logged in through one server, known to the other.
        other = User.objects.create_user("shared2", password=PASSWORD)
        other.groups.add(Group.objects.get(name="auditor"))
        headers = {"X-Forwarded-For": "10.0.2.1"}
        form = requests.get(f"{a}/accounts/login/", headers=headers, timeout=30)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        logged_in = requests.post(
            f"{a}/accounts/login/",
            data={"username": "shared2", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
            cookies={"csrftoken": form.cookies["csrftoken"]},
            headers=headers | {"Referer": f"{a}/accounts/login/"},
            allow_redirects=False,
            timeout=30,
        )
        assert logged_in.status_code == 302, logged_in.text[:500]
        session = {"sessionid": logged_in.cookies["sessionid"]}
        home = requests.get(f"{b}/", cookies=session, headers=headers, timeout=30)
        assert home.status_code == 200
        assert "shared2" in home.text
        assert (
            requests.get(f"{b}/", headers=headers, timeout=30, allow_redirects=False).status_code
            == 302
        )
