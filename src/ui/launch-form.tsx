/** The launch form: name, image, type, limits and command; creates and starts the instance. */
import { useState } from 'preact/hooks';
import type { CreateInstanceRequest } from '../api/instances.js';
import { launch } from './api.js';
import { splitWords } from './format.js';

interface Fields {
  name: string;
  image: string;
  type: 'container' | 'vm' | 'sandbox';
  cpus: string;
  memory: string;
  pids: string;
  command: string;
}

const EMPTY: Fields = { name: '', image: '', type: 'container', cpus: '', memory: '', pids: '', command: '' };

/** The request for the form's fields; throws with a message a person can act on. */
export function requestOf(f: Fields): CreateInstanceRequest {
  const limits: NonNullable<CreateInstanceRequest['limits']> = {};
  if (f.cpus.trim()) limits.cpus = Number(f.cpus);
  if (f.memory.trim()) limits.memory = /^\d+$/.test(f.memory.trim()) ? Number(f.memory) : f.memory.trim();
  if (f.pids.trim()) limits.pids = Number(f.pids);
  const command = splitWords(f.command);
  return {
    name: f.name.trim(),
    image: f.image.trim(),
    type: f.type,
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(command.length ? { command } : {}),
  };
}

export function LaunchForm({ images, onLaunched }: { images: string[]; onLaunched: () => void }) {
  const [f, setF] = useState<Fields>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const field = (k: keyof Fields) => ({
    name: k,
    value: f[k],
    onInput: (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value }),
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await launch(requestOf(f));
      setF({ ...EMPTY, image: f.image, type: f.type });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
      onLaunched();
    }
  };
  return (
    <form class="launch" onSubmit={submit}>
      <label>
        Name <input {...field('name')} required pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?" />
      </label>
      <label>
        Image <input {...field('image')} required list="images" />
        <datalist id="images">
          {images.map((i) => (
            <option key={i} value={i} />
          ))}
        </datalist>
      </label>
      <label>
        Type
        <select {...field('type')}>
          <option value="container">container</option>
          <option value="vm">vm</option>
          <option value="sandbox">sandbox</option>
        </select>
      </label>
      <label>
        CPUs <input {...field('cpus')} type="number" min="0.01" step="0.01" placeholder="any" />
      </label>
      <label>
        Memory <input {...field('memory')} placeholder="e.g. 64MiB" />
      </label>
      <label>
        PIDs <input {...field('pids')} type="number" min="1" placeholder="any" />
      </label>
      <label class="wide">
        Command <input {...field('command')} placeholder="image default, e.g. sh -c 'sleep 1000'" />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? 'Launching…' : 'Launch'}
      </button>
      {error && <p class="error">{error}</p>}
    </form>
  );
}
