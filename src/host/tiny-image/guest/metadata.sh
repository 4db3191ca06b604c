# Instance metadata for the tiny guest (sourced by rcS): a config drive (label config-2, iso9660 or
# vfat) first, else the metadata service at 169.254.169.254. Leaves meta_data.json, its flattened
# form meta.flat ("path<TAB>value", see json-flat.awk) and user_data in $META.
META=/run/nubes/meta
METADATA_URL=http://169.254.169.254/openstack/latest

# The block device of a config drive; Nova labels it config-2, some tools write CONFIG-2 on vfat.
find_config_drive() {
  for label in config-2 CONFIG-2; do
    findfs "LABEL=$label" 2>/dev/null && return 0
  done
  return 1
}

# read_config_drive DEV: copies openstack/latest/{meta_data.json,user_data} into $META.
read_config_drive() {
  mkdir -p /mnt/config
  mount -o ro -t iso9660 "$1" /mnt/config 2>/dev/null \
    || mount -o ro -t vfat "$1" /mnt/config 2>/dev/null \
    || return 1
  ok=1
  if [ -f /mnt/config/openstack/latest/meta_data.json ]; then
    cp /mnt/config/openstack/latest/meta_data.json "$META/meta_data.json" && ok=0
    [ -f /mnt/config/openstack/latest/user_data ] && cp /mnt/config/openstack/latest/user_data "$META/user_data"
  fi
  # Unmounted again so the drive can be detached while the guest runs.
  umount /mnt/config
  return $ok
}

# fetch URL FILE: a few short tries; a 404 is an answer ("no such item"), not a reason to retry.
# The time limit comes from `timeout`: Debian's busybox-static 1.35 wget crashes when given -T.
fetch() {
  tries=0
  while [ $tries -lt 3 ]; do
    if err=$(timeout 3 wget -q -O "$2" "$1" 2>&1); then return 0; fi
    rm -f "$2"
    case "$err" in *" 404"*) return 1 ;; esac
    tries=$((tries + 1))
    sleep 1
  done
  return 1
}

read_metadata_service() {
  fetch "$METADATA_URL/meta_data.json" "$META/meta_data.json" || return 1
  fetch "$METADATA_URL/user_data" "$META/user_data" || true
  return 0
}

# meta_get PATH: one flattened field ("hostname", "meta/role"); empty when absent.
meta_get() {
  awk -v k="$1" 'BEGIN { FS = "\t" } $1 == k { print substr($0, length($1) + 2); exit }' "$META/meta.flat" 2>/dev/null
}

# The instance's public keys: every public_keys entry, then keys[].data, without duplicates.
meta_public_keys() {
  awk 'BEGIN { FS = "\t" }
       index($1, "public_keys/") == 1 || $1 ~ /^keys\/[0-9]+\/data$/ {
         v = substr($0, length($1) + 2); if (v != "" && !seen[v]++) print v
       }' "$META/meta.flat" 2>/dev/null
}

# A usable hostname from whatever Nova or DHCP gave: [A-Za-z0-9.-], at most 63 characters.
clean_hostname() {
  echo "$1" | sed -e 's/[^A-Za-z0-9.-]/-/g' -e 's/^[-.]*//' -e 's/[-.]*$//' | cut -c1-63
}
