/** Node capacity and what the instances placed there request, as bars. */
import type { Node } from './api.js';
import { size } from './format.js';

type Key = 'cpus' | 'memoryBytes' | 'diskBytes' | 'instances';

const ROWS: [Key, string, (v: number) => string][] = [
  ['cpus', 'CPUs', (v) => String(Math.round(v * 100) / 100)],
  ['memoryBytes', 'Memory', size],
  ['diskBytes', 'Disk', size],
  ['instances', 'Instances', String],
];

export function Nodes({ nodes }: { nodes: Node[] }) {
  return (
    <section class="nodes">
      <h2>Nodes</h2>
      {nodes.map((n) => (
        <div class="node" key={n.name} data-node={n.name}>
          <h3>
            {n.name}
            <small>
              {n.capabilities.qemu ? ' qemu' : ''}
              {n.capabilities.kvm ? ' kvm' : ''}
            </small>
          </h3>
          {ROWS.map(([k, label, fmt]) => {
            const cap = n.capacity[k];
            const used = n.allocated[k];
            const pct = cap > 0 ? Math.min(100, (used / cap) * 100) : 0;
            return (
              <div class="bar-row" key={k} data-resource={k}>
                <span>{label}</span>
                <div class="bar">
                  <div style={{ width: `${pct}%` }} />
                </div>
                <span class="num">
                  {fmt(used)} / {fmt(cap)}
                </span>
              </div>
            );
          })}
        </div>
      ))}
    </section>
  );
}
