import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Kysely, KyselyPlugin, RootOperationNode, Transaction, ValuesNode } from 'kysely';
import { nowIso, type Db } from './db.js';
import type { Database } from './schema.js';

/** Who made a change, as the audit log names them. */
export interface AuditPrincipal {
  kind: 'user' | 'api-key' | 'part' | 'system';
  id: string;
  /** A user's email, a key's name, a part's name; looked up when missing. */
  name?: string | undefined;
}

/** An object a change touched. */
export interface AuditResource {
  type: string;
  id: string;
}

/** What one call has gathered so far. */
interface Call {
  service: string;
  method: string;
  principal: AuditPrincipal | undefined;
  organizationId: string | undefined;
  resources: Map<string, AuditResource>;
  changes: Record<string, unknown> | undefined;
  /** Insert, update and delete statements run so far. */
  writes: number;
  /** The call's event, once recorded. */
  eventSeq: number | undefined;
}

const WRITE_NODES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode']);

/** Tables whose new rows are objects an event names (by their `id` column), and their type. */
const CREATED_OBJECTS: Readonly<Record<string, string>> = {
  organizations: 'organization',
  locations: 'location',
  location_secrets: 'location-secret',
  robots: 'robot',
  robot_parts: 'part',
  part_secrets: 'part-secret',
  api_keys: 'api-key',
  authorizations: 'role-grant',
  fragments: 'fragment',
  organization_invites: 'invite',
  registry_items: 'registry-item',
  module_files: 'module-file',
  users: 'user',
};

/** The objects an INSERT creates, from its `id` column (the statement as Kysely built it). */
function createdBy(node: RootOperationNode): AuditResource[] {
  if (node.kind !== 'InsertQueryNode') return [];
  const type = CREATED_OBJECTS[node.into?.table.identifier.name ?? ''];
  const column = node.columns?.findIndex((c) => c.column.name === 'id') ?? -1;
  if (!type || column < 0 || node.values?.kind !== 'ValuesNode') return [];
  const ids: AuditResource[] = [];
  for (const row of (node.values as ValuesNode).values) {
    const value =
      row.kind === 'PrimitiveValueListNode'
        ? row.values[column]
        : (row.values[column] as { kind: string; value?: unknown } | undefined)?.value;
    if (typeof value === 'string') ids.push({ type, id: value });
  }
  return ids;
}

/**
 * The audit log's one helper. A call that may change something (every AppService and AuthService
 * call, the invite page, `flotilla init`) runs inside `run`, which names its service, method and
 * caller. While it runs, the authorizer notes the resources it was allowed to change, the
 * repositories' change reports add what they touched, and services may add a compact before/after
 * (`noteChanges`). Each transaction of the call that wrote anything records the call's event
 * before it commits, in the same transaction: a refused call rolls back with its event, and a
 * call that changed nothing records nothing.
 */
export class AuditRecorder {
  private readonly calls = new AsyncLocalStorage<Call>();

  /** Counts the writes of the call in progress (added to the services' Kysely instance). */
  readonly plugin: KyselyPlugin = {
    transformQuery: ({ node }) => {
      if (WRITE_NODES.has(node.kind)) {
        const call = this.calls.getStore();
        if (call) {
          call.writes++;
          this.noteResources(createdBy(node));
        }
      }
      return node;
    },
    transformResult: ({ result }) => Promise.resolve(result),
  };

  /** Runs `work` as one audited call. */
  run<T>(
    call: { service: string; method: string; principal?: AuditPrincipal | undefined },
    work: () => Promise<T>,
  ): Promise<T> {
    return this.calls.run(
      {
        service: call.service,
        method: call.method,
        principal: call.principal,
        organizationId: undefined,
        resources: new Map(),
        changes: undefined,
        writes: 0,
        eventSeq: undefined,
      },
      work,
    );
  }

  /** Names the caller, when the call did not know it at the start (a login, an invite accepted). */
  notePrincipal(principal: AuditPrincipal): void {
    const call = this.calls.getStore();
    if (call && !call.principal) call.principal = principal;
  }

  /** The organization the call acts in, unless known already (the first resource it was allowed). */
  noteOrganization(organizationId: string): void {
    const call = this.calls.getStore();
    if (call) call.organizationId ??= organizationId;
  }

  /** A resource the call was allowed to change, in the organization that owns it. */
  noteAccess(organizationId: string, resource: AuditResource): void {
    const call = this.calls.getStore();
    if (!call) return;
    call.organizationId ??= organizationId;
    call.resources.set(`${resource.type}:${resource.id}`, resource);
  }

  /** Resources a write touched. */
  noteResources(resources: readonly AuditResource[]): void {
    const call = this.calls.getStore();
    if (!call) return;
    for (const resource of resources) {
      call.resources.set(`${resource.type}:${resource.id}`, resource);
      if (resource.type === 'organization') call.organizationId ??= resource.id;
    }
  }

  /** A compact account of what changed (merged with what the call noted before). */
  noteChanges(changes: Record<string, unknown>): void {
    const call = this.calls.getStore();
    if (call) call.changes = { ...call.changes, ...changes };
  }

  /** Makes every transaction of `db` record the current call's event if it wrote anything. */
  trackTransactions(db: Kysely<Database>): void {
    const begin = db.transaction.bind(db);
    db.transaction = () => {
      const builder = begin();
      const execute = builder.execute.bind(builder);
      builder.execute = <T>(callback: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
        execute(async (trx) => {
          const call = this.calls.getStore();
          const before = call?.writes ?? 0;
          const result = await callback(trx);
          if (call && call.writes > before) await this.record(trx, call);
          return result;
        });
      return builder;
    };
  }

  private async record(trx: Db, call: Call): Promise<void> {
    const resources = [...call.resources.values()];
    const changes = call.changes === undefined ? null : JSON.stringify(call.changes);
    if (call.eventSeq === undefined) {
      const principal = call.principal ?? { kind: 'system', id: 'flotilla', name: 'flotilla' };
      const row = await trx
        .insertInto('audit_events')
        .values({
          id: randomUUID(),
          organization_id: call.organizationId ?? null,
          at: nowIso(),
          principal_kind: principal.kind,
          principal_id: principal.id,
          principal_name: principal.name ?? (await this.nameOf(trx, principal)),
          service: call.service,
          method: call.method,
          resources: JSON.stringify(resources),
          changes,
        })
        .returning('seq')
        .executeTakeFirstOrThrow();
      call.eventSeq = Number(row.seq);
    } else {
      // A later transaction of the same call: the one event grows.
      await trx
        .updateTable('audit_events')
        .set({ resources: JSON.stringify(resources), changes, organization_id: call.organizationId ?? null })
        .where('seq', '=', call.eventSeq)
        .execute();
    }
    if (resources.length === 0) return;
    const seq = call.eventSeq;
    await trx
      .insertInto('audit_event_resources')
      .values(resources.map((r) => ({ event_seq: seq, resource_type: r.type, resource_id: r.id })))
      .onConflict((c) => c.doNothing())
      .execute();
  }

  /** A key's or part's name as it is now (the id, if it is gone). */
  private async nameOf(trx: Db, principal: AuditPrincipal): Promise<string> {
    if (principal.kind === 'api-key') {
      const key = await trx
        .selectFrom('api_keys')
        .select('name')
        .where('id', '=', principal.id)
        .executeTakeFirst();
      return key?.name ?? principal.id;
    }
    if (principal.kind === 'part') {
      const part = await trx
        .selectFrom('robot_parts')
        .select('name')
        .where('id', '=', principal.id)
        .executeTakeFirst();
      return part?.name ?? principal.id;
    }
    return principal.id;
  }
}
