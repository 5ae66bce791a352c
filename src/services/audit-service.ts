import { invalidArgument } from '../domain/errors.js';
import { requireId } from '../domain/validation.js';
import type { FleetPrincipal } from '../authz/principal.js';
import type { AuditEventRecord } from '../store/records.js';
import type { ServiceDeps } from './context.js';

/** Events per page unless asked otherwise, and at most. */
export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 100;

/** Events deleted per statement by retention. */
const RETENTION_BATCH = 5000;

/** A request for one page of an organization's audit log, as the route receives it. */
export interface AuditListRequest {
  organizationId: string;
  resourceId?: string | undefined;
  principalId?: string | undefined;
  method?: string | undefined;
  /** ISO-8601; inclusive. */
  start?: string | undefined;
  /** ISO-8601; exclusive. */
  end?: string | undefined;
  pageToken?: string | undefined;
  limit?: number | undefined;
}

export interface AuditPage {
  events: AuditEventRecord[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/**
 * The audit log, read by an organization's owners (events are recorded by `AuditRecorder` inside
 * each change's transaction), and its retention.
 */
export class AuditService {
  constructor(private readonly deps: ServiceDeps) {}

  async list(principal: FleetPrincipal, request: AuditListRequest): Promise<AuditPage> {
    const organizationId = requireId(request.organizationId, 'organization_id');
    const limit = request.limit ?? AUDIT_PAGE_DEFAULT;
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) {
      throw invalidArgument(`limit must be an integer from 1 to ${AUDIT_PAGE_MAX}`);
    }
    const startAt = isoOrUndefined(request.start, 'start');
    const endAt = isoOrUndefined(request.end, 'end');
    const beforeSeq = request.pageToken ? seqOfToken(request.pageToken) : undefined;
    const { db, authz, repos } = this.deps;
    // Owners only: an operator sees the organization but not who changed what in it.
    await authz.require(db, principal, { type: 'organization', id: organizationId }, 'write_organization');
    const events = await repos.audit.list(db, {
      organizationId,
      resourceId: nonEmpty(request.resourceId),
      principalId: nonEmpty(request.principalId),
      method: nonEmpty(request.method),
      startAt,
      endAt,
      beforeSeq,
      limit: limit + 1,
    });
    const page = events.slice(0, limit);
    const last = page.at(-1);
    return { events: page, nextPageToken: events.length > limit && last ? tokenOf(last.seq) : '' };
  }

  /** Deletes events older than `maxAgeSeconds`; resolves how many went. */
  async deleteOlderThan(maxAgeSeconds: number, now = Date.now()): Promise<number> {
    const cutoff = new Date(now - maxAgeSeconds * 1000).toISOString();
    let total = 0;
    for (;;) {
      const gone = await this.deps.repos.audit.deleteBefore(this.deps.db, cutoff, RETENTION_BATCH);
      total += gone;
      if (gone < RETENTION_BATCH) return total;
    }
  }
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

function isoOrUndefined(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw invalidArgument(`${name} must be an ISO-8601 time, such as 2026-12-05T18:00:00Z`);
  return new Date(ms).toISOString();
}

const tokenOf = (seq: number) => Buffer.from(`audit:${seq}`).toString('base64url');

function seqOfToken(token: string): number {
  const match = /^audit:(\d{1,15})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match) throw invalidArgument('page_token is not a token this server returned');
  return Number(match[1]);
}
