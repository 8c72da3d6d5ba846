/**
 * Choosing and checking network subnets: a subnet must not overlap another network of this
 * daemon nor a route of the host (in the daemon's network namespace, /proc/self/net/route),
 * except routes through our own bridges. Without `--subnet`, a new network gets the first free
 * 10.89.N.0/24, as Podman does.
 */
import { readFileSync } from 'node:fs';
import { TandemError } from '../base/errors.js';
import { formatSubnet, overlaps, parseRouteTable, parseSubnet, type Subnet } from './ipv4.js';

interface Named {
  name: string;
  subnet: string;
}

/** `cidr` normalised, or invalid_argument naming what it overlaps. */
export function checkSubnetFree(
  cidr: string,
  networks: readonly Named[],
  ourBridges: ReadonlySet<string>,
  routes = readRoutes(),
): string {
  const s = parseSubnet(cidr);
  const clash = overlapOf(s, networks, ourBridges, routes);
  if (clash) throw new TandemError('invalid_argument', `subnet ${cidr} overlaps ${clash}`);
  return formatSubnet(s);
}

/** The first free 10.89.N.0/24; insufficient_resources when all 256 are taken. */
export function chooseSubnet(
  networks: readonly Named[],
  ourBridges: ReadonlySet<string>,
  routes = readRoutes(),
): string {
  for (let n = 0; n < 256; n++) {
    const s = parseSubnet(`10.89.${n}.0/24`);
    if (!overlapOf(s, networks, ourBridges, routes)) return formatSubnet(s);
  }
  throw new TandemError('insufficient_resources', 'no free subnet in 10.89.0.0/16: give one with --subnet');
}

function overlapOf(
  s: Subnet,
  networks: readonly Named[],
  ourBridges: ReadonlySet<string>,
  routes: { dev: string; subnet: Subnet }[],
): string | undefined {
  for (const n of networks)
    if (overlaps(s, parseSubnet(n.subnet))) return `network "${n.name}" (${n.subnet})`;
  for (const r of routes)
    if (!ourBridges.has(r.dev) && overlaps(s, r.subnet))
      return `the host's route to ${formatSubnet(r.subnet)} on ${r.dev}`;
  return undefined;
}

function readRoutes(): { dev: string; subnet: Subnet }[] {
  try {
    return parseRouteTable(readFileSync('/proc/self/net/route', 'utf8'));
  } catch {
    return [];
  }
}
