// Sign in: the API token goes once to POST /ui/session and is never stored by the page.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { ErrorBox, Field } from '../components/ui.jsx';

export function Login({ onSession }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      const s = await api('/ui/session', { method: 'POST', body: name.trim() ? { token, name: name.trim() } : { token } });
      setToken('');
      onSession(s || { authRequired: true, authenticated: true, actor: name || null });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <form class="login card" onSubmit={submit} autoComplete="off">
      <h1>Sign in to opsorch</h1>
      <Field label="API token">
        <input type="password" autoComplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} autoFocus />
      </Field>
      <Field label="Your name, for the audit log" hint="Optional">
        <input type="text" autoComplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={error} />
      <button type="submit" class="btn primary" disabled={busy || !token}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
