/**
 * The interactive serial console of a VM: a connection to QEMU's console socket. QEMU serves
 * one client at a time; everything the guest prints is also in the console log file.
 */
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { TandemError } from '../../base/errors.js';
import { GUEST_FILES } from './qemu-args.js';
import type { VmRecords } from './vm-record.js';

export class VmConsole {
  constructor(private readonly records: VmRecords) {}

  /** Connects to the console of `id`; the caller destroys the socket to detach. */
  attach(id: string): Promise<Socket> {
    const path = join(this.records.dir(id), GUEST_FILES.console);
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      sock.once('connect', () => resolve(sock));
      sock.once('error', (e) =>
        reject(new TandemError('unavailable', `console of instance "${id}": ${e.message}`, { cause: e })),
      );
    });
  }
}
