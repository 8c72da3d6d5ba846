/**
 * The web UI: without a session (TCP) only the login step; with one, the dashboard — instances
 * with live usage, the launch form, nodes and the event feed. Instances, nodes and the stats of
 * running instances are polled every 2 s; a lifecycle event refreshes at once.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type Event,
  type Instance,
  listImages,
  listInstances,
  listNodes,
  logout,
  type Node,
  setUnauthorizedHandler,
  stats,
} from './api.js';
import { EventFeed, useEvents } from './events.js';
import { Instances } from './instances.js';
import { LaunchForm } from './launch-form.js';
import { Login } from './login.js';
import { Nodes } from './nodes.js';
import { UsageHistory } from './usage-history.js';

const POLL_MS = 2000;

type Auth = 'checking' | 'login' | 'ready' | 'unreachable';

export function App() {
  const [auth, setAuth] = useState<Auth>('checking');
  const check = useCallback(() => {
    api('GET', '/v1').then(
      () => setAuth('ready'),
      (e) => setAuth(e instanceof ApiError && e.status === 401 ? 'login' : 'unreachable'),
    );
  }, []);
  useEffect(() => {
    setUnauthorizedHandler(() => setAuth('login'));
    check();
  }, [check]);
  if (auth === 'checking') return <p class="loading">Connecting…</p>;
  if (auth === 'login') return <Login onDone={() => setAuth('ready')} />;
  if (auth === 'unreachable')
    return (
      <p class="error">
        The daemon does not answer.{' '}
        <button type="button" onClick={check}>
          Retry
        </button>
      </p>
    );
  return <Dashboard onLogout={() => logout().finally(() => setAuth('login'))} />;
}

function Dashboard({ onLogout }: { onLogout: () => void }) {
  const [instances, setInstances] = useState<Instance[]>([]);
  const [nodes, setNodes] = useState<Node[]>([]);
  const [images, setImages] = useState<string[]>([]);
  const [error, setError] = useState('');
  const history = useMemo(() => new UsageHistory(), []);
  const running = useRef(false);

  const refresh = useCallback(async () => {
    if (running.current) return;
    running.current = true;
    try {
      const [list, n] = await Promise.all([listInstances(), listNodes()]);
      const active = list.filter((i) => i.status === 'running' || i.status === 'paused');
      const usage = await Promise.all(active.map((i) => stats(i.name).catch(() => undefined)));
      for (const u of usage) if (u) history.add(u);
      history.retain(new Set(active.map((i) => i.name)));
      setInstances(list);
      setNodes(n);
      setError('');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setError((e as Error).message);
    } finally {
      running.current = false;
    }
  }, [history]);

  useEffect(() => {
    void refresh();
    listImages().then(
      (l) => setImages(l.map((i) => i.name)),
      () => {},
    );
    const t = setInterval(refresh, POLL_MS);
    return () => clearInterval(t);
  }, [refresh]);

  const onEvent = useCallback(
    (e: Event) => {
      if (e.type === 'lifecycle') void refresh();
      if (e.type === 'image')
        listImages().then(
          (l) => setImages(l.map((i) => i.name)),
          () => {},
        );
    },
    [refresh],
  );
  const events = useEvents(onEvent);

  return (
    <div class="layout">
      <header>
        <h1>Tandem</h1>
        {error && <span class="error">{error}</span>}
        <button type="button" class="logout" onClick={onLogout}>
          Log out
        </button>
      </header>
      <main>
        <section>
          <h2>Instances</h2>
          <Instances instances={instances} history={history} onChange={refresh} />
          <h2>Launch</h2>
          <LaunchForm images={images} onLaunched={refresh} />
        </section>
        <aside>
          <Nodes nodes={nodes} />
          <EventFeed events={events} />
        </aside>
      </main>
    </div>
  );
}
