import assert from 'node:assert/strict';

/** An event as `GET /api/audit` answers it. */
export interface AuditEvent {
  id: string;
  time: string;
  organization_id: string;
  principal: { kind: string; id: string; name: string };
  service: string;
  method: string;
  resources: { type: string; id: string }[];
  changes: Record<string, unknown> | null;
}

/** One page of `GET /api/audit` with these query parameters: the status and the parsed body. */
export async function auditPage(
  url: string,
  token: string,
  params: Record<string, string>,
): Promise<{ status: number; body: { events: AuditEvent[]; next_page_token: string; error?: string } }> {
  const query = new URLSearchParams(params).toString();
  const res = await fetch(`${url}/api/audit?${query}`, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: res.status,
    body: (await res.json()) as { events: AuditEvent[]; next_page_token: string },
  };
}

/** Every event of the organization that `filters` select, newest first, following page tokens. */
export async function allAuditEvents(
  url: string,
  token: string,
  organizationId: string,
  filters: Record<string, string> = {},
): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let pageToken = '';
  do {
    const { status, body } = await auditPage(url, token, {
      organization_id: organizationId,
      limit: '100',
      ...filters,
      ...(pageToken && { page_token: pageToken }),
    });
    assert.equal(status, 200, JSON.stringify(body));
    events.push(...body.events);
    pageToken = body.next_page_token;
  } while (pageToken);
  return events;
}
