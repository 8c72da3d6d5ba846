/**
 * The /etc/hosts every instance on a bridge network sees: localhost, the instance itself, every
 * other instance of the network by name (and hostname when it differs), and the host as
 * `host.tandem.internal` (the gateway). One file per instance, bind-mounted by the driver and
 * rewritten *in place* when the network's membership changes (a bind mount keeps the inode, so
 * a rename would go unseen): the new text is written over the old and the file truncated to its
 * length, so a reader never sees an empty file.
 */
import { closeSync, constants, ftruncateSync, openSync, writeSync } from 'node:fs';

export interface HostsEntry {
  address: string;
  name: string;
  hostname: string;
}

/** The hosts text for instance `self` among `members` (self included) of a network with `gateway`. */
export function hostsText(self: HostsEntry, members: readonly HostsEntry[], gateway: string): string {
  const names = (e: HostsEntry) => (e.hostname && e.hostname !== e.name ? `${e.hostname} ${e.name}` : e.name);
  const others = members
    .filter((m) => m.name !== self.name)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => `${m.address}\t${names(m)}`);
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${self.address}\t${names(self)}`,
    `${gateway}\thost.tandem.internal`,
    ...others,
    '',
  ].join('\n');
}

/** Writes `text` into `path` keeping its inode (created when missing). */
export function writeInPlace(path: string, text: string): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const buf = Buffer.from(text);
    writeSync(fd, buf, 0, buf.length, 0);
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}
