// Nova's server bodies (ViewBuilder in nova/api/openstack/compute/views/servers.py): the summary of
// a list, the full view of show and /servers/detail, and how fields come and go by microversion
// and by who asks (extended attributes for admins). Pure functions of an instance.
import { createHash } from 'node:crypto';
import type { Microversion } from '../../platform/http/microversion.ts';
import { apiStatus, type VmState } from '../states.ts';
import type { Instance } from '../model.ts';
import type { Links } from './views.ts';

/** Nova prints server times to the second with Z ("2012-08-20T21:11:09Z"). */
export const serverTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
/** And launched_at/terminated_at with microseconds and no zone. */
const usgTime = (ms: number | null) =>
  ms === null ? null : new Date(ms).toISOString().replace('Z', '000');

/** Nova's hostId: a project-specific hash of the host, so tenants can tell co-location without learning host names. */
export const hostId = (i: Instance) =>
  i.host === null ? '' : createHash('sha224').update(`${i.projectId}${i.host}`).digest('hex');

/** The hypervisor's name for the instance (libvirt's instance-%08x in Nova). */
export const instanceName = (i: Instance) => `instance-${i.id.slice(0, 8)}`;

const PROGRESS_STATUSES = new Set([
  'ACTIVE',
  'BUILD',
  'REBUILD',
  'RESIZE',
  'VERIFY_RESIZE',
  'MIGRATING',
]);

export function serverStatus(i: Instance): string {
  return i.deletedAt !== null
    ? i.vmState === 'soft-delete'
      ? 'SOFT_DELETED'
      : 'DELETED'
    : apiStatus(i.vmState as VmState, i.taskState);
}

export function serverSummary(i: Instance, links: Links): Record<string, unknown> {
  return { id: i.id, name: i.name, links: links(`servers/${i.id}`) };
}

export interface ServerViewOptions {
  /** The caller passes os_compute_api:os-extended-server-attributes (admins). */
  readonly extended: boolean;
  /** The caller may see host_status (2.16), and what it is. */
  readonly hostStatus: string | null;
  /** Server group ids, shown on show/update/rebuild from 2.71. */
  readonly serverGroups?: readonly string[];
  /** Show flavor extra specs from 2.47 (policy os_compute_api:os-flavor-extra-specs:index). */
  readonly flavorExtraSpecs: boolean;
}

export function serverView(
  i: Instance,
  mv: Microversion,
  links: Links,
  o: ServerViewOptions,
): Record<string, unknown> {
  const status = serverStatus(i);
  const flavor = mv.atLeast('2.47')
    ? {
        vcpus: i.flavor.vcpus,
        ram: i.flavor.memoryMb,
        disk: i.flavor.rootGb,
        ephemeral: i.flavor.ephemeralGb,
        swap: i.flavor.swapMb,
        original_name: i.flavor.name,
        ...(o.flavorExtraSpecs ? { extra_specs: { ...i.flavor.extraSpecs } } : {}),
      }
    : { id: i.flavor.id, links: [links(`flavors/${i.flavor.id}`)[1]!] };
  const v: Record<string, unknown> = {
    id: i.id,
    name: i.name,
    status,
    tenant_id: i.projectId,
    user_id: i.userId,
    metadata: { ...i.metadata },
    hostId: hostId(i),
    image: i.imageId === null ? '' : { id: i.imageId, links: [links(`images/${i.imageId}`)[1]!] },
    flavor,
    created: serverTime(i.createdAt),
    updated: serverTime(i.updatedAt),
    // No network service yet: no ports, so no addresses (the network seam fills this).
    addresses: {},
    accessIPv4: i.accessIpv4 ?? '',
    accessIPv6: i.accessIpv6 ?? '',
    links: links(`servers/${i.id}`),
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': i.availabilityZone ?? '',
    config_drive: i.configDrive ? 'True' : '',
    key_name: i.keyName,
    'OS-SRV-USG:launched_at': usgTime(i.launchedAt),
    'OS-SRV-USG:terminated_at': usgTime(i.terminatedAt),
    'OS-EXT-STS:task_state': i.taskState,
    'OS-EXT-STS:vm_state': i.vmState,
    'OS-EXT-STS:power_state': i.powerState,
    'os-extended-volumes:volumes_attached': [],
  };
  // What the host reported of the task under way; with none, a finished server is at 100. A
  // build or rebuild shows 0 as with Nova's libvirt driver: `openstack server create --wait` (and
  // rebuild) write any other value into stdout, before the `-f json` or `-f value -c id` a script
  // reads; their steps show in task_state and the action's events instead.
  if (PROGRESS_STATUSES.has(status))
    v['progress'] =
      status === 'BUILD' || status === 'REBUILD'
        ? 0
        : (i.progress ?? (status === 'ACTIVE' || status === 'VERIFY_RESIZE' ? 100 : 0));
  if (i.securityGroups.length > 0)
    v['security_groups'] = i.securityGroups.map((name) => ({ name }));
  if (o.extended) {
    v['OS-EXT-SRV-ATTR:host'] = i.host;
    v['OS-EXT-SRV-ATTR:hypervisor_hostname'] = i.host;
    v['OS-EXT-SRV-ATTR:instance_name'] = instanceName(i);
    if (mv.atLeast('2.3')) {
      Object.assign(v, {
        'OS-EXT-SRV-ATTR:reservation_id': i.reservationId,
        'OS-EXT-SRV-ATTR:launch_index': i.launchIndex,
        'OS-EXT-SRV-ATTR:kernel_id': i.kernelId ?? '',
        'OS-EXT-SRV-ATTR:ramdisk_id': i.ramdiskId ?? '',
        'OS-EXT-SRV-ATTR:hostname': i.hostname,
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
        'OS-EXT-SRV-ATTR:user_data': i.userData,
      });
    }
  } else if (mv.atLeast('2.90')) {
    v['OS-EXT-SRV-ATTR:hostname'] = i.hostname;
  }
  if ((status === 'ERROR' || status === 'DELETED') && i.fault) {
    // Nova hides the details of a 500 fault from non-admins.
    v['fault'] = {
      code: i.fault.code,
      created: serverTime(i.fault.created),
      message: i.fault.message,
      ...(o.extended || i.fault.code !== 500 ? { details: i.fault.details } : {}),
    };
  }
  if (mv.atLeast('2.9')) v['locked'] = i.lockedBy !== null;
  if (mv.atLeast('2.16') && o.hostStatus !== null) v['host_status'] = o.hostStatus;
  if (mv.atLeast('2.19')) v['description'] = i.description;
  if (mv.atLeast('2.26')) v['tags'] = [];
  if (mv.atLeast('2.63')) v['trusted_image_certificates'] = null;
  if (mv.atLeast('2.71') && o.serverGroups !== undefined) v['server_groups'] = [...o.serverGroups];
  if (mv.atLeast('2.73')) v['locked_reason'] = i.lockedReason;
  if (mv.atLeast('2.96')) v['pinned_availability_zone'] = i.request.availabilityZone;
  return v;
}
