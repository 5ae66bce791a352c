import type { Db } from './db.js';
import type { AuditEventRecord, JsonObject } from './records.js';
import type { AuditEventTable } from './schema.js';
import type { Selectable } from 'kysely';

/** What to list: one organization's events, newest first, narrowed by the filters given. */
export interface AuditQuery {
  organizationId: string;
  resourceId?: string | undefined;
  principalId?: string | undefined;
  method?: string | undefined;
  /** Inclusive, ISO-8601 UTC. */
  startAt?: string | undefined;
  /** Exclusive, ISO-8601 UTC. */
  endAt?: string | undefined;
  /** Only events older than this one (the page token). */
  beforeSeq?: number | undefined;
  limit: number;
}

/** The audit log's reads and its retention (events are written by `AuditRecorder`). */
export class AuditRepository {
  async list(db: Db, q: AuditQuery): Promise<AuditEventRecord[]> {
    let query = db.selectFrom('audit_events').selectAll().where('organization_id', '=', q.organizationId);
    if (q.resourceId !== undefined) {
      const resourceId = q.resourceId;
      query = query.where('seq', 'in', (eb) =>
        eb.selectFrom('audit_event_resources').select('event_seq').where('resource_id', '=', resourceId),
      );
    }
    if (q.principalId !== undefined) query = query.where('principal_id', '=', q.principalId);
    if (q.method !== undefined) query = query.where('method', '=', q.method);
    if (q.startAt !== undefined) query = query.where('at', '>=', q.startAt);
    if (q.endAt !== undefined) query = query.where('at', '<', q.endAt);
    if (q.beforeSeq !== undefined) query = query.where('seq', '<', q.beforeSeq);
    const rows = await query.orderBy('seq', 'desc').limit(q.limit).execute();
    return rows.map(toRecord);
  }

  /** Deletes up to `max` events recorded before `at`; resolves how many went. */
  async deleteBefore(db: Db, at: string, max: number): Promise<number> {
    const gone = await db
      .deleteFrom('audit_events')
      .where('seq', 'in', (eb) =>
        eb.selectFrom('audit_events').select('seq').where('at', '<', at).orderBy('seq').limit(max),
      )
      .executeTakeFirst();
    return Number(gone.numDeletedRows);
  }
}

function toRecord(row: Selectable<AuditEventTable>): AuditEventRecord {
  return {
    seq: Number(row.seq),
    id: row.id,
    organizationId: row.organization_id ?? undefined,
    at: row.at,
    principal: { kind: row.principal_kind, id: row.principal_id, name: row.principal_name },
    service: row.service,
    method: row.method,
    resources: JSON.parse(row.resources) as AuditEventRecord['resources'],
    changes: row.changes === null ? undefined : (JSON.parse(row.changes) as JsonObject),
  };
}
