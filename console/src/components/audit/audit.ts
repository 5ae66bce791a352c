/*
 * The organization's audit log as the server's `GET /api/audit` answers it: one event per
 * accepted change, newest first, a page at a time.
 */

export type PrincipalKind = 'user' | 'api-key' | 'part' | 'system';

export interface AuditEvent {
  id: string;
  /** ISO-8601. */
  time: string;
  organization_id: string;
  principal: { kind: PrincipalKind; id: string; name: string };
  /** The method's short name, such as `UpdateRobotPart`. */
  method: string;
  /** Where the change came in: `viam.app.v1.AppService`, `invite-page`, `cli`. */
  service: string;
  resources: { type: string; id: string }[];
  changes: Record<string, unknown> | null;
}

export interface AuditPage {
  events: AuditEvent[];
  /** '' on the last page. */
  next_page_token: string;
}

/** What the page filters by; times are ISO-8601 ('' when not set). */
export interface AuditFilters {
  resource: string;
  principal: string;
  method: string;
  start: string;
  end: string;
}

export const NO_FILTERS: AuditFilters = { resource: '', principal: '', method: '', start: '', end: '' };

/** The most events a page of the route holds. */
export const MAX_LIMIT = 100;

/** A page size from the address (`?limit=`), when it is one the route takes. */
export function limitOf(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= MAX_LIMIT ? n : undefined;
}

/** The route's address for a page of `organizationId`'s events. */
export function auditPath(
  organizationId: string,
  filters: AuditFilters,
  limit: number | undefined,
  pageToken = '',
): string {
  const query = new URLSearchParams({ organization_id: organizationId });
  if (filters.resource.trim()) query.set('resource_id', filters.resource.trim());
  if (filters.principal.trim()) query.set('principal_id', filters.principal.trim());
  if (filters.method.trim()) query.set('method', filters.method.trim());
  if (filters.start) query.set('start', filters.start);
  if (filters.end) query.set('end', filters.end);
  if (pageToken) query.set('page_token', pageToken);
  if (limit !== undefined) query.set('limit', String(limit));
  return `/api/audit?${query.toString()}`;
}

/** The filters (and page size) as the console's own address keeps them: `/audit?resource=…`. */
export function pageHref(filters: AuditFilters, limit: number | undefined): string {
  const query = new URLSearchParams();
  for (const key of ['resource', 'principal', 'method', 'start', 'end'] as const) {
    const value = filters[key].trim();
    if (value) query.set(key, value);
  }
  if (limit !== undefined) query.set('limit', String(limit));
  const text = query.toString();
  return text ? `/audit?${text}` : '/audit';
}

/** The filters named in the console's address. */
export function filtersOf(query: URLSearchParams): AuditFilters {
  const iso = (value: string | null) => (value && !Number.isNaN(Date.parse(value)) ? value : '');
  return {
    resource: query.get('resource') ?? '',
    principal: query.get('principal') ?? '',
    method: query.get('method') ?? '',
    start: iso(query.get('start')),
    end: iso(query.get('end')),
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An ISO-8601 time as a `datetime-local` input shows it (local time, to the second). */
export function localInput(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A `datetime-local` input's value (local time) as ISO-8601; '' when empty or not a time. */
export function isoOfInput(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

const KINDS: Record<PrincipalKind, string> = {
  user: 'user',
  'api-key': 'API key',
  part: 'machine part',
  system: 'system',
};

/** Who made a change, as the table names the kind. */
export const kindLabel = (kind: string): string => KINDS[kind as PrincipalKind] ?? kind;

/** A resource as the table shows it: `type:id`. */
export const resourceText = (r: { type: string; id: string }): string => `${r.type}:${r.id}`;

/** Whether an event carries changes worth a fold-out. */
export const hasChanges = (e: AuditEvent): boolean =>
  e.changes !== null && typeof e.changes === 'object' && Object.keys(e.changes).length > 0;
