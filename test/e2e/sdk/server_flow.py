"""Issue 5 through Debian's python3-openstacksdk, as an application would use servers.

Run by test/e2e/server-sdk.test.ts against a started `nubes up --fake-hosts 2`; argv[1] is its
clouds.yaml, argv[2] a scratch directory. The SDK speaks the highest compute microversion it knows,
so this also checks the newer views. The last line printed is a JSON summary.
"""
import json
import os
import sys

import openstack
from openstack import exceptions

os.environ["OS_CLIENT_CONFIG_FILE"] = sys.argv[1]
scratch = sys.argv[2]
conn = openstack.connect(cloud="nubes")
summary = {}

path = os.path.join(scratch, "disk.raw")
with open(path, "wb") as f:
    f.write(b"\0" * 1024 * 1024)
image = conn.create_image("sdk-disk", filename=path, disk_format="raw", container_format="bare", wait=True)
flavor = conn.compute.find_flavor("m1.nano", ignore_missing=False)
key = conn.compute.create_keypair(name="sdk-key")

# The proxy layer. (The cloud layer's create_server(wait=True) insists on an IP address, which
# needs the network service.)
server = conn.compute.create_server(name="sdk-vm", image_id=image.id, flavor_id=flavor.id, key_name="sdk-key",
                                    metadata={"app": "sdk"}, networks="none")
server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
assert server.status == "ACTIVE", server.status
assert server.key_name == "sdk-key"
assert server.metadata == {"app": "sdk"}, server.metadata
assert server.flavor["original_name"] == "m1.nano", server.flavor
assert server.flavor["vcpus"] == 1 and server.flavor["ram"] == 128
summary["created"] = True

# The proxy layer: get, list with filters, update, metadata.
s = conn.compute.get_server(server.id)
assert s.power_state == 1, s.power_state
assert s.vm_state == "active"
assert any(x.id == server.id for x in conn.compute.servers(name="^sdk-"))
assert not list(conn.compute.servers(status="SHUTOFF"))
conn.compute.update_server(s, name="sdk-renamed", description="made by the sdk")
s = conn.compute.get_server(server.id)
assert s.name == "sdk-renamed" and s.description == "made by the sdk", (s.name, s.description)
conn.compute.set_server_metadata(s, tier="web")
assert conn.compute.get_server_metadata(s).metadata == {"app": "sdk", "tier": "web"}
summary["listed"] = True

# Actions, each waited for as the SDK does.
conn.compute.stop_server(s)
conn.compute.wait_for_server(s, status="SHUTOFF", wait=30)
conn.compute.start_server(s)
conn.compute.wait_for_server(s, status="ACTIVE", wait=30)
conn.compute.reboot_server(s, "HARD")
conn.compute.wait_for_server(s, status="ACTIVE", wait=30)
conn.compute.resize_server(s, conn.compute.find_flavor("m1.tiny", ignore_missing=False))
conn.compute.wait_for_server(s, status="VERIFY_RESIZE", wait=30)
conn.compute.confirm_server_resize(s)
s = conn.compute.wait_for_server(s, status="ACTIVE", wait=30)
assert s.flavor["original_name"] == "m1.tiny", s.flavor
output = conn.compute.get_server_console_output(s)["output"]
assert "fake: spawned" in output, output
# (This SDK's server_actions() sends a query parameter its own resource refuses; the raw call is what it would make.)
actions = [a["action"] for a in conn.compute.get(f"/servers/{s.id}/os-instance-actions").json()["instanceActions"]]
for a in ("create", "stop", "start", "reboot", "resize", "confirmResize"):
    assert a in actions, (a, actions)
summary["actions"] = True

# Server groups and their placement.
group = conn.compute.create_server_group(name="sdk-spread", policy="anti-affinity")
members = [conn.compute.create_server(name=f"sdk-g{n}", image_id=image.id, flavor_id=flavor.id, networks="none",
                                      scheduler_hints={"group": group.id}) for n in range(2)]
members = [conn.compute.wait_for_server(m, status="ACTIVE", wait=60) for m in members]
hosts = {conn.compute.get_server(m.id).compute_host for m in members}
assert len(hosts) == 2, hosts
assert sorted(conn.compute.get_server_group(group.id).member_ids) == sorted(m.id for m in members)
summary["groups"] = True

# Errors a program handles.
try:
    conn.compute.get_server("00000000-0000-4000-8000-000000000000")
    raise AssertionError("a missing server was found")
except exceptions.NotFoundException:
    pass
try:
    conn.compute.create_server(name="bad", image_id=image.id, flavor_id="no-such-flavor", networks="none")
    raise AssertionError("a bad flavor was accepted")
except exceptions.BadRequestException:
    pass
summary["errors"] = True

for x in [s, *members]:
    conn.compute.delete_server(x)
for x in [s, *members]:
    conn.compute.wait_for_delete(x, wait=30)
conn.compute.delete_server_group(group)
assert not list(conn.compute.servers())
summary["deleted"] = True
print(json.dumps(summary))
