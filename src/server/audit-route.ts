import { invalidArgument } from '../domain/errors.js';
import type { AuditService } from '../services/audit-service.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { AuditEventRecord } from '../store/records.js';
import type { HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';
import { fleetJsonRoute } from './fleet-json-route.js';

/** Query parameters the route reads; any other is refused, so a misspelt filter is not ignored. */
const PARAMETERS = new Set([
  'organization_id',
  'resource_id',
  'principal_id',
  'method',
  'start',
  'end',
  'page_token',
  'limit',
]);

/**
 * `GET /api/audit?organization_id=…[&resource_id=][&principal_id=][&method=][&start=][&end=]
 * [&page_token=][&limit=]` with `authorization: Bearer <token>`: one page of the organization's
 * audit log, newest first, for its owners. Answers `{"events": [...], "next_page_token": ""}`.
 */
export function auditRoute(audit: AuditService, auth: AuthenticationService, logger: Logger): HttpRoute {
  return fleetJsonRoute('audit log', /^\/api\/audit$/, auth, logger, async (principal, _segments, params) => {
    for (const name of params.keys()) {
      if (!PARAMETERS.has(name)) throw invalidArgument(`unknown query parameter ${name}`);
    }
    const get = (name: string) => params.get(name) ?? undefined;
    const limit = get('limit');
    const page = await audit.list(principal, {
      organizationId: get('organization_id') ?? '',
      resourceId: get('resource_id'),
      principalId: get('principal_id'),
      method: get('method'),
      start: get('start'),
      end: get('end'),
      pageToken: get('page_token'),
      limit: limit === undefined ? undefined : Number(limit),
    });
    return { events: page.events.map(eventJson), next_page_token: page.nextPageToken };
  });
}

function eventJson(event: AuditEventRecord) {
  return {
    id: event.id,
    time: event.at,
    organization_id: event.organizationId ?? '',
    principal: event.principal,
    service: event.service,
    method: event.method,
    resources: event.resources,
    changes: event.changes ?? null,
  };
}
