// Small cached look-ups (names of services, people, teams, policies) for labels and pickers.
// One page of at most 500 rows, kept for a minute; `truncated` says more exist, and callers then
// fall back to free text instead of a picker.
import { apiPage } from './api.js';

const TTL = 60_000;
const cache = new Map();

function cached(path) {
  const hit = cache.get(path);
  if (hit && Date.now() - hit.at < TTL) return hit.promise;
  const promise = apiPage(path, { query: { limit: 500 } }).then(
    ({ items, next }) => ({ items, truncated: !!next, byId: new Map(items.map((x) => [x.id, x])) }),
    (e) => {
      cache.delete(path);
      throw e;
    },
  );
  cache.set(path, { at: Date.now(), promise });
  return promise;
}

export const loadServices = () => cached('/admin/services');
export const loadUsers = () => cached('/admin/users');
export const loadTeams = () => cached('/admin/teams');
export const loadPolicies = () => cached('/admin/escalation-policies');
export const loadSchedules = () => cached('/admin/schedules');
/** Drops cached look-ups after a change. */
export function invalidate(path) {
  if (path) cache.delete(path);
  else cache.clear();
}
