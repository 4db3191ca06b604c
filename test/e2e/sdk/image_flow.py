"""Issue 4 through Debian's python3-openstacksdk, as an application would use images.

Run by test/e2e/image-sdk.test.ts against a started `nubes up`; argv[1] is its clouds.yaml, argv[2]
a scratch directory. Every step asserts what a user of the SDK would check; the last line printed
is a JSON summary.
"""
import hashlib
import io
import json
import os
import sys
import time

import openstack
from openstack import exceptions

os.environ["OS_CLIENT_CONFIG_FILE"] = sys.argv[1]
scratch = sys.argv[2]
conn = openstack.connect(cloud="nubes")
summary = {}

# The cloud layer: create_image uploads and waits for active.
data = os.urandom(2 * 1024 * 1024 + 5)
path = os.path.join(scratch, "sdk.raw")
with open(path, "wb") as f:
    f.write(data)
img = conn.create_image("sdk-raw", filename=path, disk_format="raw", container_format="bare",
                        wait=True, meta={"purpose": "sdk"}, tags=["sdk"])
assert img.status == "active", img.status
assert img.checksum == hashlib.md5(data).hexdigest()
assert img.size == len(data)
summary["created"] = True

# The proxy layer: get, find, update, tags, list with filters.
got = conn.image.get_image(img.id)
assert got.properties.get("purpose") == "sdk", got.properties
assert got.hash_algo == "sha512" and got.hash_value == hashlib.sha512(data).hexdigest()
assert conn.image.find_image("sdk-raw").id == img.id
conn.image.update_image(img.id, name="sdk-renamed", min_ram=64)
assert conn.image.get_image(img.id).name == "sdk-renamed"
conn.image.add_tag(img.id, "extra")
assert sorted(conn.image.get_image(img.id).tags) == ["extra", "sdk"]
conn.image.remove_tag(img.id, "extra")
names = [i.name for i in conn.image.images(tag="sdk")]
assert names == ["sdk-renamed"], names
paged = [i.id for i in conn.image.images(limit=1)]
assert len(paged) == len(list(conn.image.images())), "the SDK follows next links"
summary["updated"] = True

# Download: to memory and to a stream, checked against Content-MD5 by the SDK itself.
assert conn.image.download_image(img.id).content == data
buf = io.BytesIO()
conn.image.download_image(img.id, output=buf)
assert buf.getvalue() == data
summary["downloaded"] = True

# Import: stage and glance-direct through the proxy, then wait for the conversion to qcow2.
imp = conn.image.create_image(name="sdk-import", disk_format="raw", container_format="bare")
conn.image.stage_image(imp, data=data)
assert conn.image.get_image(imp.id).status == "uploading"
conn.image.import_image(imp, method="glance-direct")
for _ in range(100):
    imp = conn.image.get_image(imp.id)
    if imp.status in ("active", "queued"):
        break
    time.sleep(0.2)
assert imp.status == "active" and imp.disk_format == "qcow2", (imp.status, imp.disk_format)
summary["imported"] = True

# Errors come back as the SDK's exceptions with Glance's messages.
try:
    conn.image.get_image("00000000-0000-0000-0000-000000000000")
    raise AssertionError("a missing image was found")
except exceptions.NotFoundException as e:
    assert "No image found" in str(e), str(e)
try:
    conn.image.update_image(img.id, visibility="sideways")
    raise AssertionError("a bad visibility was accepted")
except exceptions.BadRequestException:
    pass
conn.image.update_image(img.id, is_protected=True)
try:
    conn.image.delete_image(img.id)
    raise AssertionError("a protected image was deleted")
except exceptions.HttpException as e:
    assert e.status_code == 403, e.status_code
conn.image.update_image(img.id, is_protected=False)
conn.image.delete_image(img.id)
conn.image.delete_image(imp.id)
assert conn.image.find_image("sdk-renamed") is None
summary["errors"] = True

print(json.dumps(summary))
