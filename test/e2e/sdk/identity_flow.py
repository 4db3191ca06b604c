"""Issue 3 through Debian's python3-openstacksdk, as an application would use it.

Run by test/e2e/identity-sdk.test.ts against a started `nubes up`; argv[1] is its clouds.yaml.
Every step asserts what a user of the SDK would check; the last line printed is a JSON summary.
"""
import json
import os
import sys

import openstack
from openstack import exceptions

os.environ["OS_CLIENT_CONFIG_FILE"] = sys.argv[1]
admin = openstack.connect(cloud="nubes")
auth_url = admin.config.config["auth"]["auth_url"]

summary = {}


def connect(**kwargs):
    """A connection from arguments alone, as an application holding its own credentials makes one.

    Without this the SDK would prefer the only cloud of clouds.yaml (the admin) over the arguments."""
    return openstack.connect(load_yaml_config=False, load_envvars=False, **kwargs)


# Catalog and token.
assert admin.auth_token
summary["services"] = sorted(s.type for s in admin.identity.services())
assert "identity" in summary["services"]
assert any(e.interface == "public" for e in admin.identity.endpoints())

# Domains, projects, users, groups, roles.
dom = admin.identity.create_domain(name="sdk-domain", description="made by the SDK")
assert admin.identity.get_domain(dom.id).name == "sdk-domain"
proj_a = admin.identity.create_project(name="sdk-a", description="A")
proj_b = admin.identity.create_project(name="sdk-b", domain_id=dom.id)
admin.identity.update_project(proj_a, description="A, updated")
assert admin.identity.get_project(proj_a.id).description == "A, updated"
assert {"sdk-a", "sdk-b"} <= {p.name for p in admin.identity.projects()}
user = admin.identity.create_user(name="sdk-user", password="sdk-pw-1", default_project_id=proj_a.id, email="sdk@example.com")
assert admin.identity.get_user(user.id).email == "sdk@example.com"
reader = admin.identity.create_user(name="sdk-reader", password="reader-pw")
group = admin.identity.create_group(name="sdk-group", domain_id="default")
admin.identity.add_user_to_group(user, group)
assert admin.identity.check_user_in_group(user, group)
role_member = admin.identity.find_role("member")
role_reader = admin.identity.find_role("reader")
custom = admin.identity.create_role(name="sdk-role")
assert admin.identity.get_role(custom.id).name == "sdk-role"
admin.identity.assign_project_role_to_user(proj_a, user, role_member)
admin.identity.assign_project_role_to_group(proj_b, group, role_member)
admin.identity.assign_domain_role_to_user(dom, user, role_reader)
admin.identity.assign_project_role_to_user(proj_a, reader, role_reader)
assert admin.identity.validate_user_has_project_role(proj_a, user, role_member)
rows = list(admin.identity.role_assignments(user_id=user.id))
assert any(r.scope.get("project", {}).get("id") == proj_a.id for r in rows), rows
summary["assignments_of_user"] = len(rows)

# The user: project token, then a token scoped to the other project (through the group).
base = dict(auth_url=auth_url, user_domain_name="Default", project_domain_name="Default", identity_api_version="3")
as_user = connect(username="sdk-user", password="sdk-pw-1", project_name="sdk-a", **base)
assert as_user.current_project_id == proj_a.id
as_user_b = connect(username="sdk-user", password="sdk-pw-1", project_id=proj_b.id, **base)
assert as_user_b.current_project_id == proj_b.id

# Application credential, then authenticate with it.
ac = as_user.identity.create_application_credential(user=as_user.current_user_id, name="sdk-app", roles=[{"name": "member"}])
assert ac.secret
by_ac = connect(auth_type="v3applicationcredential", auth=dict(auth_url=auth_url, application_credential_id=ac.id, application_credential_secret=ac.secret))
assert by_ac.auth_token and by_ac.current_project_id == proj_a.id
summary["appcred_project"] = by_ac.current_project_id == proj_a.id

# A reader cannot change anything and sees nothing of another project.
as_reader = connect(username="sdk-reader", password="reader-pw", project_name="sdk-a", **base)
assert as_reader.identity.get_project(proj_a.id).name == "sdk-a"
denied = 0
for attempt in (
    lambda: as_reader.identity.update_project(proj_a, description="mine"),
    lambda: as_reader.identity.create_project(name="reader-made"),
    lambda: as_reader.identity.create_user(name="reader-made"),
    lambda: as_reader.identity.delete_project(proj_b),
    lambda: as_reader.identity.get_project(proj_b.id),
    lambda: list(as_reader.identity.projects()),
):
    try:
        attempt()
    except exceptions.HttpException as e:  # this SDK release has no class of its own for 403
        assert e.status_code == 403, e
        denied += 1
# This SDK release ignores the status of a role grant, so check that it did not happen.
as_reader.identity.assign_project_role_to_user(proj_a, reader, role_member)
assert not admin.identity.validate_user_has_project_role(proj_a, reader, role_member)
denied += 1
assert denied == 7, denied
summary["reader_denied"] = denied

# Password change, revocation, clean-up.
# Self-service password change: this SDK release has no call for it, so use its identity adapter,
# as an application would (update_user is an admin's PATCH, refused to the user as in Keystone).
resp = as_user.identity.post(f"/users/{as_user.current_user_id}/password",
                             json={"user": {"original_password": "sdk-pw-1", "password": "sdk-pw-2"}})
assert resp.status_code == 204, resp.text
try:
    connect(username="sdk-user", password="sdk-pw-1", project_name="sdk-a", **base).authorize()
    raise AssertionError("the old password still works")
except exceptions.SDKException as e:
    assert "401" in str(e), e
connect(username="sdk-user", password="sdk-pw-2", project_name="sdk-a", **base).authorize()
admin.identity.unassign_project_role_from_user(proj_a, reader, role_reader)
assert not admin.identity.validate_user_has_project_role(proj_a, reader, role_reader)
admin.identity.delete_user(reader)
admin.identity.delete_project(proj_b)
admin.identity.update_domain(dom, enabled=False)
admin.identity.delete_domain(dom)
assert admin.identity.find_domain("sdk-domain") is None
print(json.dumps(summary))
