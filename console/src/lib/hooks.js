import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/**
 * Loads `fn(signal)` when `deps` change; keeps the previous data while reloading; refreshes every
 * `refreshMs` while the tab is visible (0/undefined: never); aborts on unmount.
 */
export function useApi(fn, deps, { refreshMs } = {}) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const ctl = useRef(null);
  const seq = useRef(0);

  const reload = useCallback(() => {
    if (ctl.current) ctl.current.abort();
    const c = new AbortController();
    ctl.current = c;
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    Promise.resolve()
      .then(() => fnRef.current(c.signal))
      .then(
        (data) => n === seq.current && setState({ data, error: null, loading: false }),
        (error) => {
          if (n !== seq.current || (error && error.name === 'AbortError')) return;
          setState((s) => ({ data: s.data, error, loading: false }));
        },
      );
  }, []);

  useEffect(() => {
    reload();
    return () => ctl.current && ctl.current.abort();
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!refreshMs) return undefined;
    // Paused while the tab is hidden or a modal dialog is open.
    const tick = () => document.visibilityState === 'visible' && !document.querySelector('dialog[open]') && reload();
    const id = setInterval(tick, refreshMs);
    const onVis = () => document.visibilityState === 'visible' && reload();
    document.addEventListener('visibilitychange', onVis);
    return () => {
      clearInterval(id);
      document.removeEventListener('visibilitychange', onVis);
    };
  }, [refreshMs, reload]);

  return { ...state, reload };
}

/**
 * True when a key event should not be taken as a shortcut: modifiers, an open dialog, typing in
 * a text field; on buttons, links and check boxes only Enter and Space are theirs.
 */
export function ignoreKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return true;
  if (typeof document !== 'undefined' && document.querySelector('dialog[open]')) return true;
  const t = e.target;
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  const pressable = /^(BUTTON|A|SUMMARY)$/.test(t.tagName) || (t.tagName === 'INPUT' && /^(checkbox|radio|button|submit)$/.test(t.type));
  if (t.tagName === 'INPUT' && !pressable) return true;
  return pressable && (e.key === 'Enter' || e.key === ' ');
}

/**
 * List keyboard shortcuts: j/k move, Enter/o open, a/r act on the selected row, x toggles it
 * (optional onToggle). Returns the selected index (-1: none).
 */
export function useListKeys({ count, onOpen, onAck, onResolve, onToggle }) {
  const [index, setIndex] = useState(-1);
  const ref = useRef({});
  ref.current = { count, onOpen, onAck, onResolve, onToggle, index };
  useEffect(() => {
    if (index >= count) setIndex(count - 1);
  }, [count, index]);
  useEffect(() => {
    const onKey = (e) => {
      if (ignoreKey(e)) return;
      const { count: n, index: i, onOpen: open, onAck: ack, onResolve: res, onToggle: tog } = ref.current;
      if (!n) return;
      const act = (f) => {
        if (f && i >= 0 && i < n) {
          e.preventDefault();
          f(i);
        }
      };
      switch (e.key) {
        case 'j':
          e.preventDefault();
          setIndex(Math.min(n - 1, i + 1));
          break;
        case 'k':
          e.preventDefault();
          setIndex(Math.max(0, i - 1));
          break;
        case 'Enter':
        case 'o':
          act(open);
          break;
        case 'a':
          act(ack);
          break;
        case 'r':
          act(res);
          break;
        case 'x':
          act(tog);
          break;
        default:
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return { index, setIndex };
}

/** `value`, settled for `ms` milliseconds. */
export function useDebounced(value, ms = 250) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

/**
 * Cursor paging state: a stack of `after` cursors (null = first page), reset whenever `resetKey`
 * changes. `next(cursor)` goes forward, `prev()` back; `page` counts from 1.
 */
export function useCursorPages(resetKey) {
  const [state, setState] = useState({ key: resetKey, stack: [null] });
  const stack = state.key === resetKey ? state.stack : [null];
  return {
    after: stack[stack.length - 1],
    page: stack.length,
    hasPrev: stack.length > 1,
    next: (cursor) => cursor && setState({ key: resetKey, stack: [...stack, cursor] }),
    prev: () => stack.length > 1 && setState({ key: resetKey, stack: stack.slice(0, -1) }),
  };
}
