/**
 * The daemon's nftables table, as text for `nft -f -`. Pure: the caller runs it.
 *
 * One table per daemon (`ip tandem-<tag>`), replaced atomically as a whole (`table; delete
 * table; table {...}` in one transaction), so a reload recreates what is missing and drops what
 * is stale in one step. Port forwards are elements of two maps (host port → address . port), so
 * adding or removing one instance's forwards is an element change, never a rule handle hunt:
 *
 *   prerouting, output (nat):  fib daddr type local  dnat to <proto> dport map @fwd_<proto>
 *                              (every local address, 127.0.0.1 included, as Docker publishes)
 *   postrouting (nat):         masquerade what leaves a subnet; masquerade loopback sources sent
 *                              to a bridge (connections to 127.0.0.1:HOSTPORT, with route_localnet
 *                              on the bridge) and DNATed traffic from a subnet back into it (hairpin)
 *   forward (filter):          drop traffic routed between two of our bridges (networks are apart)
 */

export interface RulesetNetwork {
  bridge: string;
  subnet: string;
}

export interface Forward {
  protocol: 'tcp' | 'udp';
  hostPort: number;
  address: string;
  port: number;
}

const PROTOCOLS = ['tcp', 'udp'] as const;

/** The whole table for these networks and forwards; with no network, a script that deletes it. */
export function fullRuleset(
  table: string,
  networks: readonly RulesetNetwork[],
  forwards: readonly Forward[],
): string {
  const head = `table ip ${table}\ndelete table ip ${table}\n`;
  if (networks.length === 0) return head;
  const lines = [head, `table ip ${table} {`];
  for (const p of PROTOCOLS) {
    const elems = forwards.filter((f) => f.protocol === p).map(element);
    lines.push(
      `  map fwd_${p} {`,
      '    type inet_service : ipv4_addr . inet_service',
      ...(elems.length ? [`    elements = { ${elems.join(', ')} }`] : []),
      '  }',
    );
  }
  const dnat = PROTOCOLS.map((p) => `    fib daddr type local dnat ip to ${p} dport map @fwd_${p}`);
  lines.push(
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...dnat,
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...dnat,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
  );
  for (const n of networks) {
    lines.push(
      `    ip saddr ${n.subnet} ip daddr != ${n.subnet} masquerade`,
      `    oifname "${n.bridge}" ip saddr 127.0.0.0/8 masquerade`,
      `    oifname "${n.bridge}" ip saddr ${n.subnet} ct status dnat masquerade`,
    );
  }
  lines.push('  }', '  chain forward {', '    type filter hook forward priority filter; policy accept;');
  for (const n of networks) {
    const others = networks.filter((o) => o.bridge !== n.bridge).map((o) => `"${o.bridge}"`);
    if (others.length) lines.push(`    iifname "${n.bridge}" oifname { ${others.join(', ')} } drop`);
  }
  lines.push('  }', '}', '');
  return lines.join('\n');
}

/** A script adding (or deleting) forwards in the maps of an existing table. */
export function forwardsScript(table: string, op: 'add' | 'delete', forwards: readonly Forward[]): string {
  const out: string[] = [];
  for (const p of PROTOCOLS) {
    const mine = forwards.filter((f) => f.protocol === p);
    if (!mine.length) continue;
    const elems = op === 'add' ? mine.map(element) : mine.map((f) => String(f.hostPort));
    out.push(`${op} element ip ${table} fwd_${p} { ${elems.join(', ')} }`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

function element(f: Forward): string {
  return `${f.hostPort} : ${f.address} . ${f.port}`;
}
