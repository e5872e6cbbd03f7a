// The BIOS image QEMU starts with: the vCPU only halts (no guest OS), so that the machine's
// devices are driven through qtest alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIOS_SIZE = 64 * 1024;
/** At the reset vector (0xfffffff0, the image's last 16 bytes): cli; hlt; jmp back to the hlt. */
const RESET_CODE = [0xfa, 0xf4, 0xeb, 0xfd];

let path: string | undefined;

/** The image: 0xf4 (hlt) everywhere, the halting loop at the reset vector. */
export function biosImage(): Buffer {
  const image = Buffer.alloc(BIOS_SIZE, 0xf4);
  Buffer.from(RESET_CODE).copy(image, BIOS_SIZE - 16);
  return image;
}

/** A temporary file holding the image, written once per process and removed at its exit. */
export function biosFile(): string {
  if (path !== undefined) return path;
  const dir = mkdtempSync(join(tmpdir(), 'iommu-conformance-bios-'));
  const file = join(dir, 'halt.bin');
  writeFileSync(file, biosImage());
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  path = file;
  return file;
}
