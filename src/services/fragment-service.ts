import { compactDiff } from '../domain/audit-diff.js';
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
import { serializeBoundedConfig } from '../domain/config/config-size.js';
import { toRobotConfigJson } from '../domain/config/robot-config.js';
import { parseTriggers } from '../domain/config/triggers.js';
import { boundedText, requireId, requireName } from '../domain/validation.js';
import { nowIso, type Db } from '../store/db.js';
import type { FragmentRecord, FragmentRevisionRecord } from '../store/records.js';
import { nextUpdateTime, requireUnchangedSince } from '../domain/optimistic-update.js';
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

const editorOf = (p: FleetPrincipal): Pick<FragmentRevisionRecord, 'editorType' | 'editorId'> => ({
  editorType: p.kind,
  editorId: p.kind === 'user' ? p.email : p.id,
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
    checkConfig(config);
    return this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'organization', id: orgId }, 'write_fragment');
      const chosen = visibility ?? 'private';
      await this.requireNamespaceFor(trx, orgId, chosen);
      const now = nowIso();
      const id = newId();
      const refs = await this.resolver.checkReferences(trx, orgId, config, { id });
      const saved = await this.deps.repos.fragments.create(
        trx,
        {
          id,
          organizationId: orgId,
          name,
          visibility: chosen,
          revision: 1,
          config,
          createdAt: now,
          updatedAt: now,
        },
        {
          fragmentId: id,
          revision: 1,
          name,
          visibility: chosen,
          config,
          createdAt: now,
          ...editorOf(principal),
        },
      );
      await this.deps.repos.fragments.setUses(trx, 'fragment', id, usesOf(refs));
      return this.view(trx, saved, undefined);
    });
  }

  /**
   * A fragment, at its latest revision or the version (revision or tag) asked for, with all its
   * tags.
   */
  async get(
    principal: FleetPrincipal,
    fragmentId: string,
    version: string | undefined,
  ): Promise<{ fragment: Fragment; tags: { tag: string; revision: string }[] }> {
    const { db } = this.deps;
    const { record: fragment } = await this.deps.authz.require(
      db,
      principal,
      { type: 'fragment', id: requireId(fragmentId, 'id') },
      'read_fragment',
    );
    const revision = version ? await this.resolver.revisionOf(db, fragment, version) : undefined;
    if (version && !revision) throw notFound(`fragment ${fragment.id} has no version "${version}"`);
    return { fragment: await this.view(db, fragment, revision), tags: await this.tags(db, fragment.id) };
  }

  /** Saves a new revision: name, config and visibility. */
  async update(principal: FleetPrincipal, fragmentId: string, update: FragmentUpdate): Promise<Fragment> {
    const id = requireId(fragmentId, 'id');
    const name = requireName(update.name, 'name');
    return this.deps.db.transaction().execute(async (trx) => {
      const { record: current } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'fragment', id },
        'write_fragment',
        { lock: true },
      );
      requireUnchangedSince('fragment', current.updatedAt, update.lastKnownUpdate);
      const visibility = update.visibility ?? current.visibility;
      await this.requireNamespaceFor(trx, current.organizationId, visibility);
      const config = update.config ?? current.config;
      checkConfig(config);
      const refs = await this.resolver.checkReferences(trx, current.organizationId, config, { id });
      // Parts served a config viam-server refuses already are not this change's doing.
      const brokenBefore = await this.resolver.partsWithInvalidConfig(trx, id);
      const now = nextUpdateTime(current.updatedAt);
      this.deps.audit.noteChanges({
        ...(name !== current.name && { name: { before: current.name, after: name } }),
        ...(visibility !== current.visibility && {
          visibility: { before: current.visibility, after: visibility },
        }),
        config: compactDiff(current.config, config),
      });
      await this.deps.repos.fragments.addRevision(trx, {
        fragmentId: id,
        revision: current.revision + 1,
        name,
        visibility,
        config,
        createdAt: now,
        ...editorOf(principal),
      });
      await this.deps.repos.fragments.setUses(trx, 'fragment', id, usesOf(refs));
      await this.resolver.recheckUsersOf(trx, id, brokenBefore);
      const saved = await this.deps.repos.fragments.findById(trx, id);
      if (!saved) throw notFound('fragment not found');
      return this.view(trx, saved, undefined);
    });
  }

  /** Deletes a fragment nothing uses. */
  async delete(principal: FleetPrincipal, fragmentId: string): Promise<void> {
    const id = requireId(fragmentId, 'id');
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'fragment', id }, 'write_fragment', {
        lock: true,
      });
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
    const fragments = await repos.fragments.listForOrganization(db, orgId, wanted);
    const visible: Fragment[] = [];
    for (const fragment of fragments) {
      if (await authz.find(db, principal, { type: 'fragment', id: fragment.id }, 'read_fragment')) {
        visible.push(await this.view(db, fragment, undefined));
      }
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
    ).map((u) => u.fragmentId);
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
      const { record: fragment } = await this.deps.authz.require(
        db,
        principal,
        { type: 'fragment', id: fragmentId },
        'read_fragment',
      );
      orgId = fragment.organizationId;
      start = [
        ...(await this.deps.repos.fragments.listUsesBy(db, 'fragment', [fragment.id])).map(
          (u) => u.fragmentId,
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
    const { record: fragment } = await this.deps.authz.require(
      db,
      principal,
      { type: 'fragment', id: requireId(fragmentId, 'id') },
      'read_fragment',
    );
    if (pageLimit !== undefined && pageLimit < 0) throw invalidArgument('page_limit must not be negative');
    const limit = Math.min(pageLimit || DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE);
    let before = fragment.revision + 1;
    if (pageToken) {
      const decoded = Number(Buffer.from(pageToken, 'base64url').toString('utf8').replace(/^r:/, ''));
      if (!Number.isInteger(decoded) || decoded < 1) throw invalidArgument('page_token is not valid');
      before = decoded;
    }
    // Entry for revision r: the fragment as it was at r - 1, edited at r's time by r's editor.
    const revisions = await repos.fragments.listRevisions(db, fragment.id, before, limit + 1);
    const edits = revisions.filter((r) => r.revision >= 2);
    const page = edits.slice(0, limit);
    // The page also ends before the reply would outgrow the budget. An entry carries the old
    // config twice (in `old` and in `config`); one too large for any reply has it replaced by a
    // `_truncated` note.
    const budget = new ReplyBudget();
    const entries: FragmentHistoryEntry[] = [];
    let last: FragmentRevisionRecord | undefined;
    let full = false;
    for (const edit of page) {
      const old = await repos.fragments.findRevision(db, fragment.id, edit.revision - 1);
      if (old) {
        const entry: FragmentHistoryEntry = {
          fragmentId: fragment.id,
          editedOn: new Date(edit.createdAt),
          old: await this.view(db, fragment, old),
          editor: { type: edit.editorType, id: edit.editorId },
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
    const { record: fragment } = await this.deps.authz.require(
      db,
      principal,
      { type: 'fragment', id: requireId(fragmentId, 'fragment_id') },
      'write_fragment',
    );
    const uses = (await repos.fragments.listUsesOf(db, fragment.id)).filter((u) => u.userType === 'part');
    const byVersion = new Map<
      string,
      { orgs: Set<string>; machines: Set<string>; ownMachines: Set<string> }
    >();
    const organizations = await repos.scopes.organizationsOfParts(
      db,
      uses.map((u) => u.userId),
    );
    for (const use of uses) {
      const part = await repos.parts.findById(db, use.userId);
      const organizationId = organizations.get(use.userId);
      if (!part || !organizationId) continue;
      const version = use.version || String(fragment.revision);
      const entry = byVersion.get(version) ?? {
        orgs: new Set(),
        machines: new Set(),
        ownMachines: new Set(),
      };
      entry.orgs.add(organizationId);
      entry.machines.add(part.machineId);
      if (organizationId === fragment.organizationId) entry.ownMachines.add(part.machineId);
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
      await this.deps.authz.require(trx, principal, { type: 'fragment', id }, 'write_fragment', {
        lock: true,
      });
      if (Number.isNaN(number) || !(await this.deps.repos.fragments.findRevision(trx, id, number))) {
        throw invalidArgument(`the fragment has no revision "${revision.slice(0, 64)}"`);
      }
      const brokenBefore = await this.resolver.partsWithInvalidConfig(trx, id);
      await this.deps.repos.fragments.setTag(trx, { fragmentId: id, tag, revision: number });
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
      await this.deps.authz.require(trx, principal, { type: 'fragment', id }, 'write_fragment', {
        lock: true,
      });
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
      const readable = await this.deps.authz.find(db, principal, { type: 'fragment', id }, 'read_fragment');
      if (!readable) continue;
      out.push(await this.view(db, readable.record, undefined));
      queue.push(
        ...(await this.deps.repos.fragments.listUsesBy(db, 'fragment', [id])).map((u) => u.fragmentId),
      );
    }
    return out;
  }

  private async requireNamespaceFor(db: Db, orgId: string, visibility: FragmentVisibility): Promise<void> {
    if (visibility !== 'public') return;
    const org = await this.deps.repos.organizations.findById(db, orgId);
    if (!org?.publicNamespace) {
      throw failedPrecondition('a public fragment needs its organization to have a public namespace');
    }
  }

  private async view(
    db: Db,
    fragment: FragmentRecord,
    at: FragmentRevisionRecord | undefined,
  ): Promise<Fragment> {
    const { repos } = this.deps;
    const org = await repos.organizations.findById(db, fragment.organizationId);
    const uses = (await repos.fragments.listUsesOf(db, fragment.id)).filter((u) => u.userType === 'part');
    const orgs = new Set(
      (
        await repos.scopes.organizationsOfParts(
          db,
          uses.map((u) => u.userId),
        )
      ).values(),
    );
    return {
      id: fragment.id,
      name: at?.name ?? fragment.name,
      config: at?.config ?? fragment.config,
      organizationId: fragment.organizationId,
      organizationName: org?.name ?? '',
      visibility: at?.visibility ?? fragment.visibility,
      createdOn: new Date(fragment.createdAt),
      lastUpdated: new Date(at?.createdAt ?? fragment.updatedAt),
      revision: String(at?.revision ?? fragment.revision),
      robotPartCount: uses.length,
      organizationCount: orgs.size,
      onlyUsedByOwner: [...orgs].every((o) => o === fragment.organizationId),
    };
  }
}

/** Checks a fragment config like a part's (the same format), and bounds its size. */
function checkConfig(config: Record<string, unknown>): void {
  toRobotConfigJson(config);
  parseTriggers(config);
  serializeBoundedConfig(config);
}
