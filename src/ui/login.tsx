/** The login step on TCP: the token is traded once for an HttpOnly session cookie. */
import { useState } from 'preact/hooks';
import { ApiError, login } from './api.js';

export function Login({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await login(token.trim());
      onDone();
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401 ? 'wrong token' : String((err as Error).message),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Tandem</h1>
      <form onSubmit={submit}>
        <label>
          API token
          <input
            name="token"
            type="password"
            autocomplete="current-password"
            required
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && <p class="error">{error}</p>}
      </form>
      <p class="hint">The token is the content of the daemon's --token-file.</p>
    </main>
  );
}
