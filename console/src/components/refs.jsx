// Links to catalog objects, labelled with their names from the cached look-ups.
import { useApi } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { loadPolicies, loadServices, loadUsers } from '../lib/catalog.js';

const ignore = () => {};

function useName(loader, id) {
  const { data } = useApi((signal) => (id ? loader().catch(ignore) : Promise.resolve(null)), [id]);
  const row = data && data.byId.get(id);
  return row && row.name ? row.name : id;
}

const enc = encodeURIComponent;

export function ServiceRef({ id }) {
  const name = useName(loadServices, id);
  if (!id) return <span class="muted">—</span>;
  return (
    <Link href={`/services/${enc(id)}`} title={id !== name ? id : undefined}>
      {name}
    </Link>
  );
}

export function UserRef({ id, name }) {
  const looked = useName(loadUsers, name ? '' : id);
  if (!id) return <span class="muted">—</span>;
  return (
    <Link href={`/people/${enc(id)}`} title={id}>
      {name || looked || id}
    </Link>
  );
}

export function PolicyRef({ id, name }) {
  const looked = useName(loadPolicies, name ? '' : id);
  if (!id) return <span class="muted">—</span>;
  return <Link href={`/escalation-policies/${enc(id)}`}>{name || looked || id}</Link>;
}

export function ScheduleRef({ id, name }) {
  if (!id) return <span class="muted">—</span>;
  return <Link href={`/schedules/${enc(id)}`}>{name || id}</Link>;
}

export function TeamRef({ id }) {
  if (!id) return <span class="muted">—</span>;
  return <Link href={`/teams/${enc(id)}`}>{id}</Link>;
}

/** A escalation target { type: user|schedule, id }. */
export function TargetRef({ target }) {
  if (!target) return null;
  if (target.type === 'schedule') return <>schedule <ScheduleRef id={target.id} /></>;
  if (target.type === 'user') return <>user <UserRef id={target.id} /></>;
  return <>{`${target.type} ${target.id}`}</>;
}
