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

type InputAttrs = Record<string, string | boolean>;

/** The text inputs in form order (type is a select, placed after the image). */
const INPUTS: [keyof Fields, string, InputAttrs][] = [
  ['name', 'Name', { required: true, pattern: '[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?' }],
  ['image', 'Image', { required: true, list: 'images' }],
  ['cpus', 'CPUs', { type: 'number', min: '0.01', step: '0.01', placeholder: 'any' }],
  ['memory', 'Memory', { placeholder: 'e.g. 64MiB' }],
  ['pids', 'PIDs', { type: 'number', min: '1', placeholder: 'any' }],
  ['command', 'Command', { placeholder: "image default, e.g. sh -c 'sleep 1000'" }],
];

export function LaunchForm({ images, onLaunched }: { images: string[]; onLaunched: () => void }) {
  const [f, setF] = useState<Fields>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const set = (k: keyof Fields) => (e: { currentTarget: { value: string } }) =>
    setF({ ...f, [k]: e.currentTarget.value });
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
  const input = ([k, label, attrs]: (typeof INPUTS)[number]) => (
    <label key={k} class={k === 'command' ? 'wide' : ''}>
      {label} <input name={k} value={f[k]} onInput={set(k)} {...attrs} />
    </label>
  );
  return (
    <form class="launch" onSubmit={submit}>
      {INPUTS.slice(0, 2).map(input)}
      <label>
        Type
        <select name="type" value={f.type} onInput={set('type')}>
          <option value="container">container</option>
          <option value="vm">vm</option>
          <option value="sandbox">sandbox</option>
        </select>
      </label>
      {INPUTS.slice(2).map(input)}
      <datalist id="images">
        {images.map((i) => (
          <option key={i} value={i} />
        ))}
      </datalist>
      <button type="submit" disabled={busy}>
        {busy ? 'Launching…' : 'Launch'}
      </button>
      {error && <p class="error">{error}</p>}
    </form>
  );
}
