"""End to end: ``cairn up`` in a subprocess, driven by the real ``openstack`` CLI
and keystoneauth, with nothing but the ``clouds.yaml`` it writes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud_process import Running, cairn_up


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with cairn_up(tmp_path_factory.mktemp("cloud") / "data") as (running, _pid):
        yield running


def test_clouds_yaml_is_private_and_the_password_was_shown_once(cloud: Running) -> None:
    assert (cloud.data / "clouds.yaml").stat().st_mode & 0o077 == 0
    password = str(cloud.clouds["cairn-admin"]["auth"]["password"])  # type: ignore[index]
    stderr = cloud.stderr_path.read_text()
    # Printed once for the operator, never inside a log line.
    assert stderr.count(password) == 1
    assert all(password not in line for line in stderr.splitlines() if line.startswith("{"))


def test_token_issue_and_catalog_list(cloud: Running) -> None:
    token = cloud.json("token", "issue")
    assert isinstance(token, dict)
    assert str(token["id"]).startswith("c1")
    assert token["project_id"]
    assert token["user_id"]
    catalog = cloud.json("catalog", "list")
    assert isinstance(catalog, list)
    types = {entry["Type"] for entry in catalog}
    # Exactly the services `cairn up` serves: none that would answer 404.
    assert types == {
        "identity",
        "compute",
        "image",
        "network",
        "block-storage",
        "volumev3",
        "events",
    }


def test_project_create_list_show_delete(cloud: Running) -> None:
    made = cloud.json("project", "create", "--description", "made by the CLI", "cli-project")
    assert isinstance(made, dict)
    assert made["name"] == "cli-project"
    listed = cloud.json("project", "list")
    assert isinstance(listed, list)
    assert "cli-project" in {p["Name"] for p in listed}
    shown = cloud.json("project", "show", "cli-project")
    assert isinstance(shown, dict)
    assert shown["id"] == made["id"]
    assert shown["description"] == "made by the CLI"
    cloud.openstack("project", "delete", "cli-project")
    missing = cloud.openstack("project", "show", "cli-project", check=False)
    assert missing.returncode != 0


def test_project_and_user_update_and_delete(cloud: Running) -> None:
    cloud.openstack("project", "create", "renamed-later")
    cloud.openstack("project", "set", "--description", "second thoughts", "renamed-later")
    cloud.openstack("project", "set", "--name", "renamed-now", "renamed-later")
    shown = cloud.json("project", "show", "renamed-now")
    assert isinstance(shown, dict)
    assert shown["description"] == "second thoughts"
    cloud.openstack("user", "create", "--password", "bob-pw-12", "--email", "b@x.test", "bob")
    cloud.openstack("user", "set", "--email", "bob@x.test", "--disable", "bob")
    user = cloud.json("user", "show", "bob")
    assert isinstance(user, dict)
    assert (user["email"], user["enabled"]) == ("bob@x.test", False)
    cloud.openstack("user", "delete", "bob")
    assert cloud.openstack("user", "show", "bob", check=False).returncode != 0
    cloud.openstack("project", "delete", "renamed-now")
    assert cloud.openstack("project", "show", "renamed-now", check=False).returncode != 0


def test_group_create_list_show_update_membership_delete(cloud: Running) -> None:
    cloud.openstack("user", "create", "--password", "carol-pw-1", "carol")
    made = cloud.json("group", "create", "--description", "ops people", "ops")
    assert isinstance(made, dict)
    listed = cloud.json("group", "list")
    assert isinstance(listed, list)
    assert "ops" in {g["Name"] for g in listed}
    cloud.openstack("group", "set", "--description", "operations", "ops")
    shown = cloud.json("group", "show", "ops")
    assert isinstance(shown, dict)
    assert (shown["id"], shown["description"]) == (made["id"], "operations")
    cloud.openstack("group", "add", "user", "ops", "carol")
    inside = cloud.openstack("group", "contains", "user", "ops", "carol").stdout
    assert inside.strip() == "carol in group ops"
    cloud.openstack("group", "remove", "user", "ops", "carol")
    outside = cloud.openstack("group", "contains", "user", "ops", "carol", check=False)
    assert "carol not in group ops" in outside.stdout + outside.stderr
    cloud.openstack("group", "delete", "ops")
    assert cloud.openstack("group", "show", "ops", check=False).returncode != 0


def test_role_create_list_show_update_delete(cloud: Running) -> None:
    made = cloud.json("role", "create", "auditor")
    assert isinstance(made, dict)
    listed = cloud.json("role", "list")
    assert isinstance(listed, list)
    assert {"admin", "member", "reader", "auditor"} <= {r["Name"] for r in listed}
    cloud.openstack("role", "set", "--name", "inspector", "auditor")
    shown = cloud.json("role", "show", "inspector")
    assert isinstance(shown, dict)
    assert shown["id"] == made["id"]
    cloud.openstack("role", "delete", "inspector")
    assert cloud.openstack("role", "show", "inspector", check=False).returncode != 0


def test_a_new_user_with_a_role_logs_in_and_its_token_is_revoked(cloud: Running) -> None:
    cloud.openstack("project", "create", "team")
    cloud.openstack("user", "create", "--password", "alice-pw-1", "--project", "team", "alice")
    cloud.openstack("role", "add", "--user", "alice", "--project", "team", "member")
    assignments = cloud.json("role", "assignment", "list", "--user", "alice", "--names")
    assert isinstance(assignments, list)
    assert [(a["Role"], a["Project"]) for a in assignments] == [("member", "team@Default")]
    alice = {
        "OS_AUTH_URL": f"{cloud.url}/identity", "OS_USERNAME": "alice",
        "OS_PASSWORD": "alice-pw-1", "OS_PROJECT_NAME": "team",
        "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
    }  # fmt: skip
    issued = json.loads(cloud.openstack("token", "issue", "-f", "json", cloud="", env=alice).stdout)
    token = issued["id"]
    # alice's token works until the admin revokes it.
    auth = v3.Token(auth_url=f"{cloud.url}/identity", token=token, project_name="team",
                    project_domain_name="Default")  # fmt: skip
    assert ks_session.Session(auth=auth).get_token()
    cloud.openstack("token", "revoke", token)
    with pytest.raises(ks_exceptions.Unauthorized):
        ks_session.Session(auth=v3.Token(
            auth_url=f"{cloud.url}/identity", token=token, project_name="team",
            project_domain_name="Default")).get_token()  # fmt: skip
    # alice is a member of team: she cannot list users or touch the admin project.
    denied = cloud.openstack("user", "list", cloud="", env=alice, check=False)
    assert denied.returncode != 0
    assert "403" in denied.stderr or "not authorized" in denied.stderr.lower()


def test_keystoneauth_password_session_discovers_and_reaches_the_catalog(cloud: Running) -> None:
    admin = cloud.clouds["cairn-admin"]["auth"]
    assert isinstance(admin, dict)
    auth = v3.Password(
        auth_url=admin["auth_url"], username="admin", password=admin["password"],
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
    )  # fmt: skip
    sess = ks_session.Session(auth=auth)
    started = time.monotonic()
    assert sess.get_token()
    assert time.monotonic() - started < 10
    assert sess.get_endpoint(service_type="compute", interface="public").endswith("/compute/v2.1")
    response = sess.get("/v3/projects", endpoint_filter={"service_type": "identity"})
    assert response.status_code == 200
    assert "admin" in {p["name"] for p in response.json()["projects"]}


def test_an_application_credential_made_by_the_cli_authenticates(cloud: Running) -> None:
    made = cloud.json("application", "credential", "create", "--role", "reader", "cli-app")
    assert isinstance(made, dict)
    assert made["Secret"]
    listed = cloud.json("application", "credential", "list")
    assert isinstance(listed, list)
    assert "cli-app" in {c["Name"] for c in listed}
    auth = v3.ApplicationCredential(
        auth_url=f"{cloud.url}/identity", application_credential_id=made["ID"],
        application_credential_secret=made["Secret"],
    )  # fmt: skip
    sess = ks_session.Session(auth=auth)
    assert sess.get_token()
    assert sess.auth.get_access(sess).role_names == ["reader"]  # type: ignore[union-attr]
    cloud.openstack("application", "credential", "delete", "cli-app")
    with pytest.raises(ks_exceptions.Unauthorized):
        ks_session.Session(auth=v3.ApplicationCredential(
            auth_url=f"{cloud.url}/identity", application_credential_id=made["ID"],
            application_credential_secret=made["Secret"])).get_token()  # fmt: skip


def test_no_password_token_or_secret_in_any_log_line(cloud: Running) -> None:
    # Runs last in this module: every command above has left its log lines.
    logged = "\n".join(
        line for line in cloud.stderr_path.read_text().splitlines() if line.startswith("{")
    )
    assert '"path": "/identity/v3/auth/tokens"' in logged  # the access log is there
    for secret in ("alice-pw-1", str(cloud.clouds["cairn-demo"]["auth"]["password"])):  # type: ignore[index]
        assert secret not in logged
    assert re.search(r"c1[A-Za-z0-9_-]{100,}", logged) is None  # no token
    assert re.search(r"s1[A-Za-z0-9_=-]{40,}", logged) is None  # no sealed blob either
