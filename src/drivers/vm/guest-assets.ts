/**
 * Where the guest's kernel and initramfs are: built by guest/build.sh under build/guest/ of the
 * checkout (this file is three levels below it, in src/ or dist/), or TANDEM_GUEST_DIR.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TandemError } from '../../base/errors.js';

export interface GuestAssets {
  dir: string;
  kernel: string;
  initramfs: string;
  /** The guest kernel's release, e.g. 6.1.0-56-amd64. */
  release: string;
}

/** The default guest directory: TANDEM_GUEST_DIR or build/guest of this checkout. */
export function defaultGuestDir(): string {
  return process.env.TANDEM_GUEST_DIR ?? fileURLToPath(new URL('../../../build/guest/', import.meta.url));
}

/** Finds the guest files; rejects with unavailable (naming the build step) when they are missing. */
export async function loadGuestAssets(dir = defaultGuestDir()): Promise<GuestAssets> {
  const kernel = join(dir, 'vmlinux');
  const initramfs = join(dir, 'initramfs.cpio');
  try {
    await access(kernel);
    await access(initramfs);
    const release = (await readFile(join(dir, 'kernel-release'), 'utf8')).trim();
    return { dir, kernel, initramfs, release };
  } catch {
    throw new TandemError(
      'unavailable',
      `guest kernel or initramfs missing in "${dir}": run guest/build.sh (make build)`,
    );
  }
}
