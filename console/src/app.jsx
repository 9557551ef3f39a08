// The shell: session check, login gate, grouped navigation, header, routed <main>.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, onUnauthorized } from './lib/api.js';
import { Link, isSafeNext, matchRoute, navigate, useLocation } from './lib/router.js';
import { ErrorBox, Loading, Page } from './components/ui.jsx';
import { coreRoutes } from './screens/core_routes.js';
import { opsRoutes } from './screens/ops_routes.js';
import { Login } from './screens/login.jsx';

const GROUPS = ['Respond', 'Observe', 'Operate', 'Configure'];
const routes = [...coreRoutes, ...opsRoutes];

function navGroups() {
  return GROUPS.map((g) => ({
    group: g,
    items: routes.filter((r) => r.nav && r.nav.group === g).sort((a, b) => (a.nav.order || 0) - (b.nav.order || 0)),
  })).filter((g) => g.items.length);
}
const NAV = navGroups();

function isActive(route, path) {
  const prefixes = [route.path, ...((route.nav && route.nav.also) || [])];
  return prefixes.some((p) => (p === '/' ? path === '/' : path === p || path.startsWith(p + '/')));
}

function NotFound() {
  return (
    <Page title="Not found">
      <p>There is no page here.</p>
      <p>
        <Link href="/">Go to Home</Link>
      </p>
    </Page>
  );
}

function here() {
  return window.location.pathname.replace(/^\/ui/, '') + window.location.search;
}

export function App() {
  const { path, query } = useLocation();
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const [menu, setMenu] = useState(false);
  const main = useRef(null);
  const lastPath = useRef(path);

  const loadSession = () => {
    setError(null);
    api('/ui/session').then(setSession, setError);
  };
  useEffect(() => {
    loadSession();
    onUnauthorized(() => {
      setSession((s) => ({ ...(s || {}), authRequired: true, authenticated: false }));
      if (!here().startsWith('/login')) navigate('/login?next=' + encodeURIComponent(here()), { replace: true });
    });
  }, []);

  const gated = session && session.authRequired && !session.authenticated;
  useEffect(() => {
    if (session && !session.authRequired && path === '/login') navigate('/', { replace: true });
    if (gated && !here().startsWith('/login')) navigate('/login?next=' + encodeURIComponent(here()), { replace: true });
  }, [gated, path, session]);

  // Focus moves to the content when the page (not just its query) changes.
  useEffect(() => {
    if (lastPath.current !== path) {
      lastPath.current = path;
      setMenu(false);
      if (main.current) main.current.focus({ preventScroll: true });
    }
  }, [path]);

  if (error)
    return (
      <main id="main" class="boot">
        <ErrorBox error={error} retry={loadSession} />
      </main>
    );
  // The screen does not wait for the session check: both requests go out at once, so the first
  // screen is one round trip after the bundle. Without a session its API calls answer 401 and
  // the login screen follows (onUnauthorized above).
  if (!session && path === '/login') return <Loading label="Starting…" />;
  const known = session || { authRequired: false, authenticated: true, actor: null };

  if ((path === '/login' && known.authRequired) || gated) {
    document.title = 'Sign in · opsorch';
    return (
      <main id="main" class="boot">
        <Login
          query={query}
          session={known}
          onSession={(s) => {
            setSession(s);
            const next = query.get('next');
            navigate(isSafeNext(next) && !next.startsWith('/login') ? next : '/', { replace: true });
          }}
        />
      </main>
    );
  }

  const m = matchRoute(routes, path);
  const Screen = m ? m.route.component : NotFound;
  if (m && m.route.title) document.title = `${m.route.title} · opsorch`;

  const logout = async () => {
    try {
      await api('/ui/logout', { method: 'POST' });
    } catch {
      /* the cookie is cleared either way */
    }
    setSession({ authRequired: true, authenticated: false, actor: null });
    navigate('/login', { replace: true });
  };

  return (
    <div class="shell">
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current && main.current.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <button
          type="button"
          class="btn ghost menu-btn"
          aria-expanded={menu ? 'true' : 'false'}
          aria-controls="nav"
          onClick={() => setMenu(!menu)}
        >
          ☰ <span class="sr-only">Menu</span>
        </button>
        <Link href="/" class="brand">
          opsorch
        </Link>
        <div class="topbar-end">
          {known.actor && (
            <span class="actor" title="You act as this name in the audit log">
              {known.actor}
            </span>
          )}
          {known.authRequired && (
            <button type="button" class="btn ghost" onClick={logout}>
              Logout
            </button>
          )}
        </div>
      </header>
      <nav id="nav" class={menu ? 'sidenav open' : 'sidenav'} aria-label="Main">
        {NAV.map((g) => (
          <div class="nav-group" key={g.group}>
            <h2 class="nav-title">{g.group}</h2>
            <ul>
              {g.items.map((r) => (
                <li key={r.path}>
                  <Link href={r.path} aria-current={isActive(r, path) ? 'page' : undefined}>
                    {r.nav.label}
                  </Link>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        <Screen key={m ? m.route.path + '|' + JSON.stringify(m.params) : 'nf'} params={m ? m.params : {}} query={query} session={known} />
      </main>
    </div>
  );
}
