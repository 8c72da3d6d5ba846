/**
 * The web UI: without a session (TCP) only the login step; with one, the dashboard — instances
 * with live usage, the launch form, nodes and the event feed. Data is polled every 2 s
 * (use-dashboard.ts); a lifecycle event refreshes at once.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Event, logout, setUnauthorizedHandler } from './api.js';
import { EventFeed, useEvents } from './events.js';
import { Instances } from './instances.js';
import { LaunchForm } from './launch-form.js';
import { Login } from './login.js';
import { Nodes } from './nodes.js';
import { useDashboard } from './use-dashboard.js';

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
  const { instances, nodes, images, history, error, refresh, refreshImages } = useDashboard(POLL_MS);
  const onEvent = useCallback(
    (e: Event) => {
      if (e.type === 'lifecycle') void refresh();
      if (e.type === 'image') refreshImages();
    },
    [refresh, refreshImages],
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
