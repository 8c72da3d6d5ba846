/**
 * Host names of one daemon's networking, all derived from its network root (under the state
 * dir), so two daemons on one host — or in one network namespace — never touch each other's
 * objects (DESIGN.md, "Ownership on the host"):
 *
 *   nft table        ip tandem-<tag>
 *   netns            /run/netns/tandem-<tag>-<instance id>
 *   veth (host end)  tv<13 hex of sha256(tag, id)>      alias tandem-<tag>:veth:<id>
 *   tap              tt<13 hex of sha256(tag, id)>      alias tandem-<tag>:tap:<id>
 *   bridge           the configured name for the default network (tandem0), else
 *                    tb<13 hex of sha256(tag, network)>  alias tandem-<tag>:bridge:<network>
 *   hosts files      /run/tandem-net-<tag>/hosts/<instance id>
 *
 * Interface names are at most 15 bytes, so ownership is read from the link's alias, which
 * every link we create carries; reconcile and cleanup only ever touch links with our alias.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';

/** The 8-hex tag of the daemon whose network root is `root`. */
export function networkTag(root: string): string {
  return createHash('sha256').update(resolve(root)).digest('hex').slice(0, 8);
}

export type LinkKind = 'veth' | 'tap' | 'bridge';

export interface NetworkNames {
  tag: string;
  table: string;
  netnsDir: string;
  runDir: string;
  hostsDir: string;
  netnsName(id: string): string;
  netnsPath(id: string): string;
  veth(id: string): string;
  tap(id: string): string;
  /** Bridge device of a non-default network. */
  bridge(network: string): string;
  alias(kind: LinkKind, subject: string): string;
  /** Parses one of our aliases; undefined for anything else (another daemon's, or none). */
  parseAlias(alias: string | undefined): { kind: LinkKind; subject: string } | undefined;
  /** The instance id of one of our netns names; undefined for anything else. */
  netnsId(name: string): string | undefined;
  hostsFile(id: string): string;
}

/** Names for the daemon whose network root is `root` (run dir and netns dir overridable for tests). */
export function networkNames(root: string, opts: { runDir?: string; netnsDir?: string } = {}): NetworkNames {
  const tag = networkTag(root);
  const short = (kind: string, s: string) =>
    createHash('sha256').update(`${tag}/${kind}/${s}`).digest('hex').slice(0, 13);
  const netnsDir = opts.netnsDir ?? '/run/netns';
  const runDir = opts.runDir ?? `/run/tandem-net-${tag}`;
  const hostsDir = join(runDir, 'hosts');
  const nsPrefix = `tandem-${tag}-`;
  const aliasPrefix = `tandem-${tag}:`;
  return {
    tag,
    table: `tandem-${tag}`,
    netnsDir,
    runDir,
    hostsDir,
    netnsName: (id) => `${nsPrefix}${id}`,
    netnsPath: (id) => join(netnsDir, `${nsPrefix}${id}`),
    veth: (id) => `tv${short('veth', id)}`,
    tap: (id) => `tt${short('tap', id)}`,
    bridge: (network) => `tb${short('bridge', network)}`,
    alias: (kind, subject) => `${aliasPrefix}${kind}:${subject}`,
    parseAlias(alias) {
      if (!alias?.startsWith(aliasPrefix)) return undefined;
      const [kind, subject] = alias.slice(aliasPrefix.length).split(':');
      if (!subject || !['veth', 'tap', 'bridge'].includes(kind!)) return undefined;
      return { kind: kind as LinkKind, subject };
    },
    netnsId: (name) => (name.startsWith(nsPrefix) ? name.slice(nsPrefix.length) : undefined),
    hostsFile: (id) => join(hostsDir, id),
  };
}

/** True when `name` can be a Linux interface name (1..15 bytes, no '/', ':' or whitespace). */
export function isInterfaceName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}
