import type { FleetPrincipal } from '../authz/principal.js';
import { DomainError, failedPrecondition, invalidArgument, notFound } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { Fragment, FragmentHistoryEntry, FragmentUsage, FragmentVisibility } from '../domain/models.js';
import {
  entryBytes,
  fragmentBytes,
  jsonBytes,
  MAX_REPLY_ENTRY_BYTES,
  omittedObject,
  ReplyBudget,
  structFieldBytes,
} from '../domain/reply-budget.js';
import { serializeBoundedConfig } from '../domain/config-size.js';
import { toRobotConfigJson } from '../domain/robot-config.js';
import { boundedText, requireId, requireName } from '../domain/validation.js';
import { nowIso, type Db } from '../store/db.js';
import type { FragmentRevisionRow, FragmentRow } from '../store/schema.js';
import type { ServiceDeps } from './context.js';
import { TAG_RE, usesOf, type FragmentResolver } from './fragment-resolver.js';

/** History entries per page when the request sets no limit. */
export const DEFAULT_HISTORY_PAGE = 10;
export const MAX_HISTORY_PAGE = 100;

export interface FragmentUpdate {
  name: string;
  config: Record<string, unknown> | undefined;
  visibility: FragmentVisibility | undefined;
  lastKnownUpdate: Date | undefined;
}

const editorOf = (p: FleetPrincipal) => ({
  editor_type: p.kind,
  editor_id: p.kind === 'user' ? p.email : p.id,
});

/** Fragments: named, versioned pieces of configuration that parts (and other fragments) include. */
export class FragmentService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly resolver: FragmentResolver,
  ) {}

  async create(
    principal: FleetPrincipal,
    organizationId: string,
    rawName: string,
    config: Record<string, unknown>,
    visibility: FragmentVisibility | undefined,
  ): Promise<Fragment> {
    const orgId = requireId(organizationId, 'organization_id');
    const name = requireName(rawName, 'name');
    const json = serializeConfig(config);
    return this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'organization', id: orgId }, 'write_fragment');
      const chosen = visibility ?? 'private';
      await this.requireNamespaceFor(trx, orgId, chosen);
      const now = nowIso();
      const id = newId();
      const refs = await this.resolver.checkReferences(trx, orgId, config, { id });
      const row: FragmentRow = {
        id,
        organization_id: orgId,
        name,
        visibility: chosen,
        revision: 1,
        config: json,
        created_at: now,
        updated_at: now,
      };
      await this.deps.repos.fragments.create(trx, row, {
        fragment_id: id,
        revision: 1,
        name,
        visibility: chosen,
        config: json,
        created_at: now,
        ...editorOf(principal),
      });
      await this.deps.repos.fragments.setUses(trx, 'fragment', id, usesOf(refs));
      return this.view(trx, row, undefined);
    });
  }

  /** A fragment, at its latest revision or the version (revision or tag) asked for. */
  async get(principal: FleetPrincipal, fragmentId: string, version: string | undefined): Promise<Fragment> {
    const { db } = this.deps;
    const fragment = await this.loadReadable(db, principal, requireId(fragmentId, 'id'));
    if (!version) return this.view(db, fragment, undefined);
    const revision = await this.resolver.revisionOf(db, fragment, version);
    if (!revision) throw notFound(`fragment ${fragment.id} has no version "${version}"`);
    return this.view(db, fragment, revision);
  }

  /** Saves a new revision: name, config and visibility. */
  async update(principal: FleetPrincipal, fragmentId: string, update: FragmentUpdate): Promise<Fragment> {
    const id = requireId(fragmentId, 'id');
    const name = requireName(update.name, 'name');
    return this.deps.db.transaction().execute(async (trx) => {
      const current = await this.loadWritable(trx, principal, id, true);
      if (
        update.lastKnownUpdate &&
        new Date(current.updated_at).getTime() !== update.lastKnownUpdate.getTime()
      ) {
        throw failedPrecondition('the fragment changed since last_known_update; read it again and retry');
      }
      const visibility = update.visibility ?? current.visibility;
      await this.requireNamespaceFor(trx, current.organization_id, visibility);
      const config = update.config ?? (JSON.parse(current.config) as Record<string, unknown>);
      const json = serializeConfig(config);
      const refs = await this.resolver.checkReferences(trx, current.organization_id, config, { id });
      // Parts served a config viam-server refuses already are not this change's doing.
      const brokenBefore = await this.resolver.partsWithInvalidConfig(trx, id);
      const now = new Date(Math.max(Date.now(), new Date(current.updated_at).getTime() + 1)).toISOString();
      await this.deps.repos.fragments.addRevision(trx, {
        fragment_id: id,
        revision: current.revision + 1,
        name,
        visibility,
        config: json,
        created_at: now,
        ...editorOf(principal),
      });
      await this.deps.repos.fragments.setUses(trx, 'fragment', id, usesOf(refs));
      await this.resolver.recheckUsersOf(trx, id, brokenBefore);
      return this.view(trx, await this.load(trx, id), undefined);
    });
  }

  /** Deletes a fragment nothing uses. */
  async delete(principal: FleetPrincipal, fragmentId: string): Promise<void> {
    const id = requireId(fragmentId, 'id');
    await this.deps.db.transaction().execute(async (trx) => {
      await this.loadWritable(trx, principal, id, true);
      const uses = [
        ...(await this.deps.repos.fragments.listUsesOf(trx, id)),
        ...(await this.resolver.pinnedIncluders(trx, id)),
      ];
      if (uses.length > 0) {
        throw failedPrecondition(
          `the fragment is used by ${uses.length} part(s) or fragment(s); remove it from them first`,
        );
      }
      await this.deps.repos.fragments.delete(trx, id);
    });
  }

  /**
   * Fragments owned by the organization: those of the listed visibilities, or with none
   * listed, the public ones when `showPublic` is set (not public-unlisted ones), else the private ones.
   */
  async list(
    principal: FleetPrincipal,
    organizationId: string,
    showPublic: boolean,
    visibilities: FragmentVisibility[],
  ): Promise<Fragment[]> {
    const orgId = requireId(organizationId, 'organization_id');
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    const wanted: FragmentVisibility[] =
      visibilities.length > 0 ? visibilities : showPublic ? ['public'] : ['private'];
    const rows = await repos.fragments.listForOrganization(db, orgId, wanted);
    const visible: Fragment[] = [];
    for (const row of rows) {
      if (await this.readable(db, principal, row)) visible.push(await this.view(db, row, undefined));
    }
    return visible;
  }

  /** The fragments a machine's parts use, nested ones included, plus any extra ids asked about. */
  async listForMachine(
    principal: FleetPrincipal,
    machineId: string,
    additionalIds: readonly string[],
  ): Promise<Fragment[]> {
    const id = requireId(machineId, 'machine_id');
    const { db, authz, repos } = this.deps;
    const access = await authz.require(db, principal, { type: 'robot', id }, 'read_robot');
    const parts = await repos.parts.listForRobots(db, [id]);
    const direct = (
      await repos.fragments.listUsesBy(
        db,
        'part',
        parts.map((p) => p.id),
      )
    ).map((u) => u.fragment_id);
    return this.closure(db, principal, access.scope.organizationId, [...direct, ...additionalIds]);
  }

  /** The fragments a fragment includes, at any depth, plus any extra ids asked about. */
  async listNested(
    principal: FleetPrincipal,
    fragmentId: string | undefined,
    additionalIds: readonly string[],
  ): Promise<Fragment[]> {
    const { db } = this.deps;
    let start: string[] = [...additionalIds];
    let orgId: string | undefined;
    if (fragmentId) {
      const fragment = await this.loadReadable(db, principal, fragmentId);
      orgId = fragment.organization_id;
      start = [
        ...(await this.deps.repos.fragments.listUsesBy(db, 'fragment', [fragment.id])).map(
          (u) => u.fragment_id,
        ),
        ...start,
      ];
    }
    return this.closure(db, principal, orgId, start);
  }

  /**
   * Past states of a fragment, newest first: one entry per update, paged by `page_limit` and by
   * REPLY_BUDGET_BYTES, whichever ends the page first.
   */
  async history(
    principal: FleetPrincipal,
    fragmentId: string,
    pageToken: string | undefined,
    pageLimit: number | undefined,
  ): Promise<{ entries: FragmentHistoryEntry[]; nextPageToken: string }> {
    const { db, repos } = this.deps;
    const fragment = await this.loadReadable(db, principal, requireId(fragmentId, 'id'));
    if (pageLimit !== undefined && pageLimit < 0) throw invalidArgument('page_limit must not be negative');
    const limit = Math.min(pageLimit || DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE);
    let before = fragment.revision + 1;
    if (pageToken) {
      const decoded = Number(Buffer.from(pageToken, 'base64url').toString('utf8').replace(/^r:/, ''));
      if (!Number.isInteger(decoded) || decoded < 1) throw invalidArgument('page_token is not valid');
      before = decoded;
    }
    // Entry for revision r: the fragment as it was at r - 1, edited at r's time by r's editor.
    const rows = await repos.fragments.listRevisions(db, fragment.id, before, limit + 1);
    const edits = rows.filter((r) => r.revision >= 2);
    const page = edits.slice(0, limit);
    // The page also ends before the reply would outgrow the budget. An entry carries the old
    // config twice (in `old` and in `config`); one too large for any reply has it replaced by a
    // `_truncated` note.
    const budget = new ReplyBudget();
    const entries: FragmentHistoryEntry[] = [];
    let last: FragmentRevisionRow | undefined;
    let full = false;
    for (const edit of page) {
      const old = await repos.fragments.findRevision(db, fragment.id, edit.revision - 1);
      if (old) {
        const entry: FragmentHistoryEntry = {
          fragmentId: fragment.id,
          editedOn: new Date(edit.created_at),
          old: await this.view(db, fragment, old),
          editor: { type: edit.editor_type, id: edit.editor_id },
        };
        const size = () =>
          entryBytes(
            fragmentBytes(entry.old) + structFieldBytes(entry.old.config),
            entry.fragmentId,
            entry.editor.id,
          );
        let bytes = size();
        if (bytes > MAX_REPLY_ENTRY_BYTES) {
          const why = 'this history entry is too large for one reply';
          entry.old = { ...entry.old, config: omittedObject('config', jsonBytes(entry.old.config), why) };
          bytes = size();
        }
        if (!budget.take(bytes)) {
          full = true;
          break;
        }
        entries.push(entry);
      }
      last = edit;
    }
    const more = full || edits.length > limit;
    return {
      entries,
      nextPageToken: more && last ? Buffer.from(`r:${last.revision}`).toString('base64url') : '',
    };
  }

  /** How each version of the fragment in use is used: by how many organizations and machines. */
  async usage(principal: FleetPrincipal, fragmentId: string): Promise<FragmentUsage[]> {
    const { db, repos } = this.deps;
    const fragment = await this.loadWritable(db, principal, requireId(fragmentId, 'fragment_id'), false);
    const uses = (await repos.fragments.listUsesOf(db, fragment.id)).filter((u) => u.user_type === 'part');
    const byVersion = new Map<
      string,
      { orgs: Set<string>; machines: Set<string>; ownMachines: Set<string> }
    >();
    for (const use of uses) {
      const part = await repos.parts.findById(db, use.user_id);
      const location = part ? await repos.locations.findById(db, part.location_id) : undefined;
      if (!part || !location) continue;
      const version = use.version || String(fragment.revision);
      const entry = byVersion.get(version) ?? {
        orgs: new Set(),
        machines: new Set(),
        ownMachines: new Set(),
      };
      entry.orgs.add(location.organization_id);
      entry.machines.add(part.robot_id);
      if (location.organization_id === fragment.organization_id) entry.ownMachines.add(part.robot_id);
      byVersion.set(version, entry);
    }
    return [...byVersion.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([version, e]) => ({
        fragmentId: fragment.id,
        version,
        organizations: e.orgs.size,
        machines: e.machines.size,
        machinesInCurrentOrg: e.ownMachines.size,
      }));
  }

  /** Points a tag at a revision (moving it if it exists); returns all tags. */
  async setTag(
    principal: FleetPrincipal,
    fragmentId: string,
    tag: string,
    revision: string,
  ): Promise<{ tag: string; revision: string }[]> {
    const id = requireId(fragmentId, 'fragment_id');
    if (!TAG_RE.test(tag)) throw invalidArgument('tag must match ^[a-z][a-z0-9._-]{0,63}$');
    const number = /^[1-9][0-9]{0,8}$/.test(revision) ? Number(revision) : NaN;
    return this.deps.db.transaction().execute(async (trx) => {
      await this.loadWritable(trx, principal, id, true);
      if (Number.isNaN(number) || !(await this.deps.repos.fragments.findRevision(trx, id, number))) {
        throw invalidArgument(`the fragment has no revision "${revision.slice(0, 64)}"`);
      }
      const brokenBefore = await this.resolver.partsWithInvalidConfig(trx, id);
      await this.deps.repos.fragments.setTag(trx, { fragment_id: id, tag, revision: number });
      await this.resolver.recheckUsersOf(trx, id, brokenBefore);
      return this.tags(trx, id);
    });
  }

  async deleteTag(
    principal: FleetPrincipal,
    fragmentId: string,
    tag: string,
  ): Promise<{ tag: string; revision: string }[]> {
    const id = requireId(fragmentId, 'fragment_id');
    boundedText(tag, 'tag');
    return this.deps.db.transaction().execute(async (trx) => {
      await this.loadWritable(trx, principal, id, true);
      if ((await this.deps.repos.fragments.deleteTag(trx, id, tag)) === 0)
        throw notFound(`the fragment has no tag "${tag}"`);
      // A tag something still pins is in use, like a fragment something includes.
      await this.resolver.recheckUsersOf(trx, id).catch((error: unknown) => {
        if (error instanceof DomainError && error.kind === 'invalid_argument')
          throw failedPrecondition(error.message);
        throw error;
      });
      return this.tags(trx, id);
    });
  }

  private async tags(db: Db, id: string) {
    return (await this.deps.repos.fragments.listTags(db, id)).map((t) => ({
      tag: t.tag,
      revision: String(t.revision),
    }));
  }

  /** The given fragments and everything they include, each once, those the caller may read. */
  private async closure(
    db: Db,
    principal: FleetPrincipal,
    _orgId: string | undefined,
    start: readonly string[],
  ): Promise<Fragment[]> {
    const seen = new Set<string>();
    const queue = [...start];
    const out: Fragment[] = [];
    while (queue.length > 0 && seen.size < 1000) {
      const id = queue.shift() ?? '';
      if (seen.has(id)) continue;
      seen.add(id);
      const row = await this.deps.repos.fragments.findById(db, id);
      if (!row || !(await this.readable(db, principal, row))) continue;
      out.push(await this.view(db, row, undefined));
      queue.push(
        ...(await this.deps.repos.fragments.listUsesBy(db, 'fragment', [id])).map((u) => u.fragment_id),
      );
    }
    return out;
  }

  private async readable(db: Db, principal: FleetPrincipal, fragment: FragmentRow): Promise<boolean> {
    if (fragment.visibility !== 'private') return true;
    const grants = await this.deps.authz.grantsOf(db, principal);
    return this.deps.authz.seesOrganization(grants, fragment.organization_id);
  }

  /** Private fragments are visible inside their organization only; others to everyone signed in. */
  private async loadReadable(db: Db, principal: FleetPrincipal, id: string): Promise<FragmentRow> {
    const fragment = await this.deps.repos.fragments.findById(db, id);
    if (!fragment || !(await this.readable(db, principal, fragment))) throw notFound('fragment not found');
    return fragment;
  }

  /** Writes need owner (write_fragment) in the fragment's organization; a readable fragment without it is PERMISSION_DENIED. */
  private async loadWritable(
    db: Db,
    principal: FleetPrincipal,
    id: string,
    lock: boolean,
  ): Promise<FragmentRow> {
    const visible = await this.loadReadable(db, principal, id);
    await this.deps.authz.requireOnVisible(
      db,
      principal,
      { type: 'organization', id: visible.organization_id },
      'write_fragment',
    );
    if (!lock) return visible;
    await this.deps.repos.fragments.lock(db, id);
    return this.load(db, id);
  }

  private async load(db: Db, id: string): Promise<FragmentRow> {
    const row = await this.deps.repos.fragments.findById(db, id);
    if (!row) throw notFound('fragment not found');
    return row;
  }

  private async requireNamespaceFor(db: Db, orgId: string, visibility: FragmentVisibility): Promise<void> {
    if (visibility !== 'public') return;
    const org = await this.deps.repos.organizations.findById(db, orgId);
    if (!org?.public_namespace) {
      throw failedPrecondition('a public fragment needs its organization to have a public namespace');
    }
  }

  private async view(db: Db, row: FragmentRow, at: FragmentRevisionRow | undefined): Promise<Fragment> {
    const { repos } = this.deps;
    const org = await repos.organizations.findById(db, row.organization_id);
    const uses = (await repos.fragments.listUsesOf(db, row.id)).filter((u) => u.user_type === 'part');
    const orgs = new Set<string>();
    for (const use of uses) {
      const part = await repos.parts.findById(db, use.user_id);
      const location = part ? await repos.locations.findById(db, part.location_id) : undefined;
      if (location) orgs.add(location.organization_id);
    }
    return {
      id: row.id,
      name: at?.name ?? row.name,
      config: JSON.parse(at?.config ?? row.config) as Record<string, unknown>,
      organizationId: row.organization_id,
      organizationName: org?.name ?? '',
      visibility: at?.visibility ?? row.visibility,
      createdOn: new Date(row.created_at),
      lastUpdated: new Date(at?.created_at ?? row.updated_at),
      revision: String(at?.revision ?? row.revision),
      robotPartCount: uses.length,
      organizationCount: orgs.size,
      onlyUsedByOwner: [...orgs].every((o) => o === row.organization_id),
    };
  }
}

/** Checks a fragment config like a part's (the same format), and bounds its size. */
function serializeConfig(config: Record<string, unknown>): string {
  toRobotConfigJson(config);
  return serializeBoundedConfig(config);
}
