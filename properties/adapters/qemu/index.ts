// Adapters that check QEMU's own vIOMMUs, driven through qtest with no guest OS.
export { Qtest, QemuError, findQemu, DEFAULT_QEMU, type QtestOptions } from './qtest.ts';
export { Machine, pciConfig, type MachineOptions, type PciFunction } from './machine.ts';
export { Edu, EDU_BUFFER, EDU_BUFFER_SIZE } from './edu.ts';
export { PaRelocator, decodeTag, tagCommand, tagBytes, TAG_BYTES } from './tags.ts';
export { biosFile, biosImage } from './bios.ts';
export { VirtioIommu, UNKNOWN_PAGE, type VirtioIommuOptions } from './virtio-iommu.ts';
export { openQemu, startQemuIommu, QEMU_DEVICES, type QemuDevice, type QemuIommu, type QemuTarget, type QemuTargetOptions } from './open.ts';
