/**
 * Runs the daemon's nftables scripts (nft-ruleset.ts) through `nft -f -`: the whole table at
 * start-up and whenever the set of networks changes (one atomic transaction), and map elements
 * when an instance's forwards come or go. nftables was chosen over iptables after a spike on
 * this host (docs/networking.md): both work, but one table replaced atomically and forwards as
 * map elements need no rule handles and leave nothing half-applied.
 */
import { existsSync } from 'node:fs';
import { TandemError } from '../base/errors.js';
import { run } from '../base/proc.js';
import { type Forward, forwardsScript, fullRuleset, type RulesetNetwork } from './nft-ruleset.js';

/** The nft binary (Debian: /usr/sbin/nft). */
export function nftBinary(): string {
  return ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? 'nft';
}

export class Firewall {
  constructor(
    readonly table: string,
    private readonly nft = nftBinary(),
  ) {}

  /** Replaces the table with exactly these networks and forwards (no network: removes it). */
  async load(networks: readonly RulesetNetwork[], forwards: readonly Forward[]): Promise<void> {
    await this.apply(fullRuleset(this.table, networks, forwards));
  }

  /** Adds forwards to the loaded table; conflict-free by construction (the caller checked ports). */
  async add(forwards: readonly Forward[]): Promise<void> {
    const script = forwardsScript(this.table, 'add', forwards);
    if (script) await this.apply(script);
  }

  /** Removes forwards; false when nft refused (an element or the table was missing): reload then. */
  async delete(forwards: readonly Forward[]): Promise<boolean> {
    const script = forwardsScript(this.table, 'delete', forwards);
    return script ? this.apply(script, true) : true;
  }

  /** The forwards in the table now, as `proto/hostPort` → `address:port` (tests, diagnostics). */
  async listForwards(): Promise<Map<string, string>> {
    const res = await run(this.nft, ['-j', 'list', 'table', 'ip', this.table]);
    const out = new Map<string, string>();
    if (res.code !== 0) return out;
    type NftMap = { name: string; elem?: [number, { concat: [string, number] }][] };
    for (const item of JSON.parse(res.stdout).nftables as { map?: NftMap }[]) {
      const map = item.map;
      if (!map?.name.startsWith('fwd_')) continue;
      for (const [port, val] of map.elem ?? [])
        out.set(`${map.name.slice(4)}/${port}`, `${val.concat[0]}:${val.concat[1]}`);
    }
    return out;
  }

  /** True when the table exists. */
  async exists(): Promise<boolean> {
    return (await run(this.nft, ['list', 'table', 'ip', this.table])).code === 0;
  }

  private async apply(script: string, tolerant = false): Promise<boolean> {
    const res = await run(this.nft, ['-f', '-'], { input: script }).catch((err) => {
      throw new TandemError('unavailable', `nftables: ${(err as Error).message} (install nftables)`);
    });
    if (res.code !== 0 && !tolerant) {
      const why = res.stderr.trim().split('\n').slice(0, 3).join('; ');
      throw new TandemError('internal', `nft: ${why || `status ${res.code}`}`);
    }
    return res.code === 0;
  }
}
