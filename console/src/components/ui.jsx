// Shared building blocks. Everything from the API is rendered as text (Preact escapes it).
import { cloneElement, isValidElement } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { formatRelative, formatTime, normalizeStatus, severityTone, statusTone } from '../lib/format.js';

let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

/** A screen: the <h1>, its actions, its body; sets the document title. */
export function Page({ title, actions, children, sub }) {
  useEffect(() => {
    if (typeof title === 'string' && title) document.title = `${title} · opsorch`;
  }, [title]);
  return (
    <section class="page">
      <header class="page-head">
        <div class="page-title">
          <h1>{title}</h1>
          {sub && <div class="page-sub">{sub}</div>}
        </div>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Loading({ label = 'Loading…' }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ children }) {
  return <div class="empty">{children}</div>;
}

/** An API (or other) error: message, code, HTTP status and request id, plus Retry. */
export function ErrorBox({ error, retry }) {
  if (!error) return null;
  const detail = [
    error.code && `code ${error.code}`,
    error.status ? `HTTP ${error.status}` : '',
    error.requestId && `request ${error.requestId}`,
  ].filter(Boolean);
  return (
    <div class="error" role="alert">
      <p class="error-msg">{error.message || String(error)}</p>
      {detail.length > 0 && <p class="error-detail">{detail.join(' · ')}</p>}
      {retry && (
        <button type="button" class="btn" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Pill({ tone = 'muted', children, title }) {
  return (
    <span class={`pill tone-${tone}`} title={title}>
      {children}
    </span>
  );
}

/** A status word as a pill coloured by its normalised meaning. */
export function StatusPill({ status }) {
  if (!status) return <span class="muted">—</span>;
  const n = normalizeStatus(status);
  return (
    <Pill tone={statusTone(status)} title={n !== 'unknown' && n !== status ? n : undefined}>
      {status}
    </Pill>
  );
}

export function SevPill({ severity }) {
  if (!severity) return <span class="muted">—</span>;
  return <Pill tone={severityTone(severity)}>{severity}</Pill>;
}

/** Relative time with the absolute time as its title. */
export function Time({ value, abs = false }) {
  const t = formatTime(value);
  if (!t) return <span class="muted">—</span>;
  return (
    <time dateTime={typeof value === 'string' ? value : new Date(value).toISOString()} title={t}>
      {abs ? t : formatRelative(value)}
    </time>
  );
}

/** A native modal <dialog>: Escape closes (through onClose), focus returns to where it was. */
export function Modal({ title, onClose, children, footer, wide }) {
  const ref = useRef(null);
  const close = useRef(onClose);
  close.current = onClose;
  const idRef = useRef(null);
  if (!idRef.current) idRef.current = nextId('dlg');
  useEffect(() => {
    const prev = document.activeElement;
    const d = ref.current;
    if (d && !d.open && d.showModal) d.showModal();
    const onCancel = (e) => {
      e.preventDefault();
      if (close.current) close.current();
    };
    d.addEventListener('cancel', onCancel);
    return () => {
      d.removeEventListener('cancel', onCancel);
      if (d.open) d.close();
      if (prev && prev.focus && document.contains(prev)) prev.focus();
    };
  }, []);
  return (
    <dialog ref={ref} class={wide ? 'modal wide' : 'modal'} aria-labelledby={idRef.current}>
      <header class="modal-head">
        <h2 id={idRef.current}>{title}</h2>
        <button type="button" class="btn ghost icon" aria-label="Close" onClick={() => close.current && close.current()}>
          ×
        </button>
      </header>
      <div class="modal-body">{children}</div>
      {footer && <footer class="modal-foot">{footer}</footer>}
    </dialog>
  );
}

/** A provider deep link; nothing for URLs that are not http(s). */
export function ExtLink({ url, children }) {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return null;
  return (
    <a class="ext" href={url} target="_blank" rel="noopener noreferrer">
      {children || 'Open in provider'}
      <span aria-hidden="true"> ↗</span>
      <span class="sr-only"> (opens in a new tab)</span>
    </a>
  );
}

/** A labelled control: the label names it by id (given to a single child that has none). */
export function Field({ label, children, hint }) {
  const idRef = useRef(null);
  if (!idRef.current) idRef.current = nextId('f');
  const one = isValidElement(children) && typeof children.type === 'string';
  const id = one ? children.props.id || idRef.current : undefined;
  const hintId = hint ? idRef.current + '-h' : undefined;
  if (!one)
    return (
      <label class="field">
        <span class="field-label">{label}</span>
        {children}
        {hint && <span class="field-hint">{hint}</span>}
      </label>
    );
  return (
    <div class="field">
      <label class="field-label" for={id}>
        {label}
      </label>
      {cloneElement(children, { id, 'aria-describedby': hintId })}
      {hint && (
        <span class="field-hint" id={hintId}>
          {hint}
        </span>
      )}
    </div>
  );
}

/** A tab strip; arrow keys move between tabs. Panels are the caller's. */
export function Tabs({ tabs, active, onChange }) {
  const onKey = (e) => {
    const i = tabs.findIndex((t) => t.id === active);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    if (j < 0) return;
    e.preventDefault();
    onChange(tabs[j].id);
    const btn = e.currentTarget.querySelectorAll('[role=tab]')[j];
    if (btn) btn.focus();
  };
  return (
    <div class="tabs" role="tablist" onKeyDown={onKey}>
      {tabs.map((t) => (
        <button
          type="button"
          role="tab"
          key={t.id}
          id={`tab-${t.id}`}
          aria-selected={t.id === active ? 'true' : 'false'}
          tabIndex={t.id === active ? 0 : -1}
          class={t.id === active ? 'tab active' : 'tab'}
          onClick={() => onChange(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** A value as display text: strings as they are, the rest as JSON. */
export function showValue(v) {
  if (v === null || v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** An object's fields as a <dl>. */
export function KeyValue({ object }) {
  const entries = object && typeof object === 'object' ? Object.entries(object).filter(([, v]) => v !== undefined) : [];
  if (!entries.length) return <p class="muted">None.</p>;
  return (
    <dl class="kv">
      {entries.map(([k, v]) => (
        <div class="kv-row" key={k}>
          <dt>{k}</dt>
          <dd class={typeof v === 'string' ? '' : 'mono'}>{showValue(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

const keyOf = (rowKey, row, i) =>
  typeof rowKey === 'function' ? rowKey(row, i) : row && row[rowKey || 'id'] !== undefined ? row[rowKey || 'id'] : i;

/**
 * A semantic table. `selected` is a row index or a row key; that row gets aria-selected and the
 * class `selected`, and is scrolled into view. Clicks on links/buttons/inputs inside a row are
 * left to them; other clicks call onRowClick(row, index).
 */
export function DataTable({ columns, rows, selected, onRowClick, rowKey, caption, rowClass }) {
  const body = useRef(null);
  useEffect(() => {
    const tr = body.current && body.current.querySelector('tr.selected');
    if (tr && tr.scrollIntoView) tr.scrollIntoView({ block: 'nearest' });
  }, [selected]);
  return (
    <div class="table-wrap">
      <table class={onRowClick ? 'table clickable' : 'table'}>
        {caption && <caption class="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c.key} class={c.className}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody ref={body}>
          {rows.map((row, i) => {
            const k = keyOf(rowKey, row, i);
            const isSel = selected !== undefined && selected !== null && (typeof selected === 'number' ? selected === i : selected === k);
            const extra = rowClass ? rowClass(row, i) : '';
            return (
              <tr
                key={k}
                class={(isSel ? 'selected ' : '') + (extra || '')}
                aria-selected={isSel ? 'true' : undefined}
                onClick={
                  onRowClick &&
                  ((e) => {
                    if (e.target.closest('a,button,input,select,textarea,label')) return;
                    onRowClick(row, i);
                  })
                }
              >
                {columns.map((c) => (
                  <td key={c.key} class={c.className}>
                    {c.render ? c.render(row, i) : showValue(row[c.key])}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Previous / page N / Next for cursor paging. */
export function Pager({ page, hasPrev, hasNext, onPrev, onNext, busy }) {
  if (!hasPrev && !hasNext) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="btn" disabled={!hasPrev || busy} onClick={onPrev}>
        ← Previous
      </button>
      <span aria-live="polite">Page {page}</span>
      <button type="button" class="btn" disabled={!hasNext || busy} onClick={onNext}>
        Next →
      </button>
    </nav>
  );
}

/** A yes/no dialog. */
export function Confirm({ title, children, confirmLabel = 'Confirm', danger, onConfirm, onCancel, busy, error }) {
  return (
    <Modal
      title={title}
      onClose={onCancel}
      footer={
        <>
          <button type="button" class="btn" onClick={onCancel}>
            Cancel
          </button>
          <button type="button" class={danger ? 'btn danger' : 'btn primary'} disabled={busy} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
      <ErrorBox error={error} />
    </Modal>
  );
}
