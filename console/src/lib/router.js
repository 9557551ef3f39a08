// Path routing under /ui with the History API. Pure parts (matchRoute, splitting) have no DOM use.
import { h } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';

export const BASE = '/ui';
const listeners = new Set();
const hasWindow = typeof window !== 'undefined';

/** '/ui/incidents?x=1' → { path: '/incidents', search: '?x=1' } (pure). */
export function splitLocation(pathname, search = '') {
  let path = pathname || '/';
  if (path === BASE || path.startsWith(BASE + '/')) path = path.slice(BASE.length) || '/';
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return { path, search };
}

/** True for app-relative paths safe to navigate to ('/x', not '//host' or 'http:'). */
export function isSafeNext(next) {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\');
}

function current() {
  if (!hasWindow) return { path: '/', query: new URLSearchParams() };
  const { path, search } = splitLocation(window.location.pathname, window.location.search);
  return { path, query: new URLSearchParams(search) };
}

function notify() {
  for (const fn of listeners) fn();
}

if (hasWindow) window.addEventListener('popstate', notify);

/** Goes to an app-relative location like '/incidents?x=1'. */
export function navigate(to, { replace = false } = {}) {
  const fixed = BASE + to;
  if (fixed === window.location.pathname + window.location.search) return;
  window.history[replace ? 'replaceState' : 'pushState'](null, '', fixed);
  if (!replace) window.scrollTo(0, 0);
  notify();
}

/** The current location; re-renders on every navigation. */
export function useLocation() {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const fn = () => setLoc(current());
    listeners.add(fn);
    fn();
    return () => listeners.delete(fn);
  }, []);
  return loc;
}

/** An in-app link: a real href (open in new tab works) with plain left clicks handled here. */
export function Link({ href, children, onClick, ...rest }) {
  return h(
    'a',
    {
      ...rest,
      href: BASE + href,
      onClick: (e) => {
        if (onClick) onClick(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || rest.target) return;
        e.preventDefault();
        navigate(href);
      },
    },
    children,
  );
}

/** Matches `path` against route rows `{ path: '/incidents/:id' }`; first match wins (pure). */
export function matchRoute(routes, path) {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    const pat = route.path.split('/').filter(Boolean);
    if (pat.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < pat.length; i++) {
      if (pat[i].startsWith(':')) {
        try {
          params[pat[i].slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
          break;
        }
      } else if (pat[i] !== parts[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return { route, params };
  }
  return null;
}

/** A single query parameter as state, written back with replaceState. */
export function useQueryState(key, fallback) {
  const { path, query } = useLocation();
  const value = query.has(key) ? query.get(key) : fallback;
  const set = useCallback(
    (v) => {
      const q = new URLSearchParams(window.location.search);
      if (v === undefined || v === null || v === '' || v === fallback) q.delete(key);
      else q.set(key, String(v));
      const s = q.toString();
      navigate(path + (s ? '?' + s : ''), { replace: true });
    },
    [key, fallback, path],
  );
  return [value, set];
}
