// Providers & health: the server's health and the registered providers of each capability.
import { api } from '../lib/api.js';
import { useApi } from '../lib/hooks.js';
import { ErrorBox, Loading, Page, Pill } from '../components/ui.jsx';

export const CAPABILITIES = ['incident', 'alert', 'service', 'team', 'log', 'metric', 'ticket', 'deployment', 'orchestration', 'messaging'];

/** { cap: { providers } | { error } } for every capability, fetched in parallel. */
export async function loadProviders(signal) {
  const res = await Promise.allSettled(CAPABILITIES.map((c) => api(`/providers/${c}`, { signal })));
  const out = {};
  res.forEach((r, i) => {
    out[CAPABILITIES[i]] = r.status === 'fulfilled' ? { providers: (r.value && r.value.providers) || [] } : { error: r.reason };
  });
  return out;
}

export function HealthPill({ health, error }) {
  if (error) return <Pill tone="bad">unreachable</Pill>;
  if (!health) return <Pill>…</Pill>;
  return <Pill tone={health.status === 'ok' ? 'good' : 'bad'}>{health.status || 'unknown'}</Pill>;
}

export function Settings({ session }) {
  const health = useApi((signal) => api('/health', { signal }), [], { refreshMs: 30000 });
  const prov = useApi((signal) => loadProviders(signal), []);
  return (
    <Page title="Providers & health">
      <div class="grid">
        <section class="card">
          <h2>Server</h2>
          <dl class="kv">
            <dt>Health</dt>
            <dd>
              <HealthPill health={health.data} error={health.error} />
            </dd>
            <dt>Address</dt>
            <dd class="mono">{window.location.origin}</dd>
            <dt>Version</dt>
            <dd class="muted">not reported by the server</dd>
            <dt>Signed in as</dt>
            <dd>{(session && session.actor) || <span class="muted">{session && session.authRequired ? 'unnamed' : 'no sign-in needed'}</span>}</dd>
          </dl>
          {health.error && <ErrorBox error={health.error} retry={health.reload} />}
        </section>
      </div>
      <h2>Providers per capability</h2>
      <p class="muted small">The names registered for each capability.</p>
      {prov.error && <ErrorBox error={prov.error} retry={prov.reload} />}
      {!prov.data ? (
        !prov.error && <Loading />
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Capability</th>
                <th scope="col">Providers</th>
              </tr>
            </thead>
            <tbody>
              {CAPABILITIES.map((c) => {
                const x = prov.data[c];
                return (
                  <tr key={c}>
                    <th scope="row">{c}</th>
                    <td>
                      {x.error ? (
                        <span class="muted">{x.error.message}</span>
                      ) : x.providers.length ? (
                        x.providers.map((p) => (
                          <Pill key={p} tone="info">
                            {p}
                          </Pill>
                        ))
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
