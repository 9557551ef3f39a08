// Rows of the event path's tables read back from a result, shared by the store and the group
// model (the same column lists: engine/store_schema.h).
#pragma once

#include <opsorch/engine/store.h>

#include "engine/postgres/pg_db.h"
#include "engine/store_schema.h"

namespace opsorch::engine::postgres {

// kIncidentStateColumns, in that order from column 0.
inline IncidentRow ReadIncidentState(const Rows& s, int r) {
  IncidentRow i;
  i.seq = s.Int(r, 0);
  i.id = IncidentId(i.seq);
  i.service_id = s.Text(r, 1);
  i.dedup_key = s.Text(r, 2);
  i.title = s.Text(r, 3);
  i.description = s.Text(r, 4);
  i.status = s.Text(r, 5);
  i.urgency = s.Text(r, 6);
  i.severity = s.Text(r, 7);
  i.source = s.Text(r, 8);
  i.created_at = s.Int(r, 9);
  i.acknowledged_at = s.Int(r, 10);
  i.resolved_at = s.Int(r, 11);
  i.updated_at = s.Int(r, 12);
  i.alert_count = s.Int(r, 13);
  return i;
}

// kAlertColumns, in that order from column 0.
inline AlertRow ReadAlert(const Rows& s, int r) {
  AlertRow a;
  a.seq = s.Int(r, 0);
  a.id = AlertId(a.seq);
  if (const std::int64_t inc = s.Int(r, 1); inc > 0) a.incident_id = IncidentId(inc);
  a.service_id = s.Text(r, 2);
  a.integration_id = s.Text(r, 3);
  a.dedup_key = s.Text(r, 4);
  a.action = s.Text(r, 5);
  a.summary = s.Text(r, 6);
  a.source = s.Text(r, 7);
  a.severity = s.Text(r, 8);
  a.component = s.Text(r, 9);
  a.group = s.Text(r, 10);
  a.class_name = s.Text(r, 11);
  a.custom_details = s.Object(r, 12);
  a.links = s.Array(r, 13);
  a.images = s.Array(r, 14);
  a.client = s.Text(r, 15);
  a.client_url = s.Text(r, 16);
  a.event_at = s.Int(r, 17);
  a.received_at = s.Int(r, 18);
  a.held_until = s.Int(r, 19);
  return a;
}

}  // namespace opsorch::engine::postgres
