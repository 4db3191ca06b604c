// ImagePropertiesFilter: an image asking for a hypervisor type (img_hv_type) gets a host running
// it; kvm and qemu count as one, since a kvm image runs under qemu and the other way round.
import type { Filter } from '../host-state.ts';

export const ImagePropertiesFilter: Filter = {
  name: 'ImagePropertiesFilter',
  passes: (h, s) => {
    const wanted = s.imageProperties['img_hv_type'] ?? s.imageProperties['hypervisor_type'];
    return (
      wanted === undefined ||
      wanted === h.hypervisorType ||
      (wanted === 'kvm' && h.hypervisorType === 'qemu') ||
      (wanted === 'qemu' && h.hypervisorType === 'kvm')
    );
  },
};
