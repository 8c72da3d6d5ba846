/**
 * The instances table: type, status, image, live CPU and memory with a small chart, and the
 * actions legal from each status (as in core/lifecycle.ts). Delete asks for a second click and
 * forces a running instance down.
 */
import { useState } from 'preact/hooks';
import { type Action, act, type Instance } from './api.js';
import { UsageChart } from './chart.js';
import { percent, size } from './format.js';
import type { UsageHistory } from './usage-history.js';

const ACTIONS: Record<string, Action[]> = {
  created: ['start', 'delete'],
  running: ['stop', 'pause', 'delete'],
  paused: ['resume', 'stop', 'delete'],
  stopped: ['start', 'delete'],
  error: ['start', 'delete'],
};

interface Props {
  instances: Instance[];
  history: UsageHistory;
  onChange: () => void;
}

export function Instances({ instances, history, onChange }: Props) {
  if (instances.length === 0) return <p class="empty">No instances yet: launch one below.</p>;
  return (
    <table class="instances">
      <thead>
        <tr>
          <th>Name</th>
          <th>Type</th>
          <th>Status</th>
          <th>Image</th>
          <th class="num">CPU</th>
          <th class="num">Memory</th>
          <th>
            Recent <span class="legend cpu">CPU</span> <span class="legend mem">memory</span>
          </th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {instances.map((i) => (
          <Row key={i.name} inst={i} history={history} onChange={onChange} />
        ))}
      </tbody>
    </table>
  );
}

/** Runs actions on one instance: one at a time, delete only on a second click within 4 s. */
function useActions(name: string, onChange: () => void) {
  const [busy, setBusy] = useState<Action | undefined>();
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState('');
  const run = async (a: Action) => {
    if (a === 'delete' && !confirm) {
      setConfirm(true);
      setTimeout(() => setConfirm(false), 4000);
      return;
    }
    setBusy(a);
    setError('');
    try {
      await act(name, a);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(undefined);
      setConfirm(false);
      onChange();
    }
  };
  return { busy, confirm, error, run };
}

function Row({ inst, history, onChange }: { inst: Instance; history: UsageHistory; onChange: () => void }) {
  const { busy, confirm, error, run } = useActions(inst.name, onChange);
  const active = inst.status === 'running' || inst.status === 'paused';
  const last = active ? history.latest(inst.name) : undefined;
  return (
    <tr data-instance={inst.name} data-status={inst.status}>
      <td class="name">{inst.name}</td>
      <td>{inst.type}</td>
      <td data-col="status">
        <span class={`status ${inst.status}`}>{busy ? `${busy}…` : inst.status}</span>
        {(error || inst.statusReason) && <div class="reason">{error || inst.statusReason}</div>}
      </td>
      <td>{inst.image}</td>
      <td class="num" data-col="cpu">
        {active ? percent(inst.status === 'paused' ? 0 : last?.cpu) : ''}
      </td>
      <td class="num" data-col="memory">
        {last
          ? `${size(last.memoryBytes)}${last.memoryLimitBytes ? ` / ${size(last.memoryLimitBytes)}` : ''}`
          : ''}
      </td>
      <td>{active && <UsageChart points={history.points(inst.name)} />}</td>
      <td class="actions">
        {(ACTIONS[inst.status] ?? []).map((a) => (
          <button
            type="button"
            key={a}
            data-action={a}
            disabled={busy !== undefined}
            class={a === 'delete' ? 'danger' : ''}
            onClick={() => run(a)}
          >
            {a === 'delete' && confirm ? 'confirm delete' : a}
          </button>
        ))}
      </td>
    </tr>
  );
}
