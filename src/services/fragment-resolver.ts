import { DomainError, invalidArgument } from '../domain/errors.js';
import {
  mergeFragments,
  parseFragmentMods,
  parseFragmentRefs,
  resolveFragmentTree,
  type FragmentRef,
  type LoadedFragment,
  type MergeStatus,
} from '../domain/config/fragment-merge.js';
import { toRobotConfigJson } from '../domain/config/robot-config.js';
import { parseTriggers } from '../domain/config/triggers.js';
import type { Db } from '../store/db.js';
import type { Repositories } from '../store/index.js';
import type { FragmentUse } from '../store/fragment-repository.js';
import type { FragmentRecord, FragmentRevisionRecord, FragmentUseRecord } from '../store/records.js';

/** Tag names: a lowercase letter, then up to 63 of [a-z0-9._-]. */
export const TAG_RE = /^[a-z][a-z0-9._-]{0,63}$/;

/** References as recorded uses: the version asked for, '' for the latest. */
export const usesOf = (refs: readonly FragmentRef[]): FragmentUse[] =>
  refs.map((r) => ({ fragmentId: r.id, version: r.version ?? '' }));

/** Whether an organization may use (include, read) a fragment: its own, or one made public. */
export const usableBy = (fragment: FragmentRecord, organizationId: string): boolean =>
  fragment.organizationId === organizationId || fragment.visibility !== 'private';

/**
 * Finds fragments and their versions for configs: which revision a reference means, whether an
 * organization may use it, the whole tree a config includes, and the merged result.
 */
export class FragmentResolver {
  constructor(private readonly repos: Repositories) {}

  /** The revision a version string names: a revision number, a tag, or (empty) the latest. */
  async revisionOf(
    db: Db,
    fragment: FragmentRecord,
    version: string | undefined,
  ): Promise<FragmentRevisionRecord | undefined> {
    let number = fragment.revision;
    if (version) {
      if (/^[1-9][0-9]{0,8}$/.test(version)) number = Number(version);
      else {
        const tag = (await this.repos.fragments.listTags(db, fragment.id)).find((t) => t.tag === version);
        if (!tag) return undefined;
        number = tag.revision;
      }
    }
    return this.repos.fragments.findRevision(db, fragment.id, number);
  }

  /** A loader for resolveFragmentTree that refuses fragments the organization may not use. */
  loaderFor(db: Db, organizationId: string, override?: { id: string; config: Record<string, unknown> }) {
    return async (ref: FragmentRef): Promise<LoadedFragment> => {
      // The fragment being saved is read as it will be (it may not exist yet).
      if (override && override.id === ref.id) return { id: ref.id, revision: 'new', config: override.config };
      const fragment = await this.repos.fragments.findById(db, ref.id);
      if (!fragment || !usableBy(fragment, organizationId)) {
        throw invalidArgument(
          `fragment ${clip(ref.id)} does not exist or may not be used by this organization`,
        );
      }
      const revision = await this.revisionOf(db, fragment, ref.version);
      if (!revision) {
        throw invalidArgument(`fragment ${clip(ref.id)} has no version "${clip(ref.version ?? '')}"`);
      }
      return {
        id: ref.id,
        revision: String(revision.revision),
        config: revision.config,
      };
    };
  }

  /**
   * Checks the fragments a config includes (existing, usable, no cycle, not too deep) and
   * returns its direct references, to record as uses. INVALID_ARGUMENT otherwise.
   */
  async checkReferences(
    db: Db,
    organizationId: string,
    config: Record<string, unknown>,
    self?: { id: string },
  ): Promise<FragmentRef[]> {
    const refs = parseFragmentRefs(config);
    parseFragmentMods(config);
    const root = self ? [{ id: self.id, version: undefined }] : refs;
    await resolveFragmentTree(root, this.loaderFor(db, organizationId, self && { id: self.id, config }));
    return refs;
  }

  /**
   * After a fragment changed (a save, a tag moved), checks every fragment and part that includes
   * it, directly or through others, still has a valid tree: no cycle, no sixth level, nothing
   * unusable. With `brokenBefore` (from `partsWithInvalidConfig`, taken before the change), each
   * such part's merged config must also still be one viam-server accepts, unless it already was
   * not. INVALID_ARGUMENT naming the first user that does not pass; the caller's transaction then
   * rolls the change back.
   */
  async recheckUsersOf(db: Db, fragmentId: string, brokenBefore?: ReadonlySet<string>): Promise<void> {
    const { fragments, parts } = await this.usersOf(db, fragmentId);
    for (const fragmentUser of fragments) {
      const user = await this.repos.fragments.findById(db, fragmentUser);
      if (!user) continue;
      await this.explain(`fragment ${user.id}`, () =>
        this.checkReferences(db, user.organizationId, user.config, { id: user.id }),
      );
    }
    const organizations = await this.repos.scopes.organizationsOfParts(db, [...parts]);
    for (const partId of parts) {
      const part = await this.repos.parts.findById(db, partId);
      const organizationId = organizations.get(partId);
      if (!part || !organizationId) continue;
      await this.explain(`part ${part.id}`, async () => {
        await this.checkReferences(db, organizationId, part.config);
        if (brokenBefore && !brokenBefore.has(part.id)) {
          await this.checkMerged(db, organizationId, part.config);
        }
      });
    }
  }

  /**
   * The parts that include the fragment, directly or through others, whose merged config
   * viam-server would refuse now: a later `recheckUsersOf` does not blame a change for them.
   */
  async partsWithInvalidConfig(db: Db, fragmentId: string): Promise<Set<string>> {
    const broken = new Set<string>();
    const { parts } = await this.usersOf(db, fragmentId);
    const organizations = await this.repos.scopes.organizationsOfParts(db, [...parts]);
    for (const partId of parts) {
      const part = await this.repos.parts.findById(db, partId);
      const organizationId = organizations.get(partId);
      if (!part || !organizationId) continue;
      try {
        // Broken references need no record: recheckUsersOf refuses them whatever this says.
        await this.checkMerged(db, organizationId, part.config);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        broken.add(part.id);
      }
    }
    return broken;
  }

  /**
   * Checks that a part's config with its fragments merged in is one viam-server accepts (the
   * conversion RobotService.Config serves). INVALID_ARGUMENT naming the key path in the merged
   * config otherwise.
   */
  async checkMerged(db: Db, organizationId: string, config: Record<string, unknown>): Promise<void> {
    const merged = (await this.merged(db, organizationId, config)).config;
    toRobotConfigJson(merged);
    // Alert triggers may come through fragments too: the merged list is the one that counts.
    parseTriggers(merged);
  }

  /**
   * The fragments and parts that include the fragment, directly or through other fragments;
   * fragments nearest first.
   */
  private async usersOf(db: Db, fragmentId: string): Promise<{ fragments: string[]; parts: Set<string> }> {
    const seen = new Set<string>([fragmentId]);
    const queue = [fragmentId];
    const fragments: string[] = [];
    const parts = new Set<string>();
    while (queue.length > 0) {
      const current = queue.shift() ?? '';
      for (const use of await this.repos.fragments.listUsesOf(db, current)) {
        if (use.userType === 'part') parts.add(use.userId);
        else if (!seen.has(use.userId)) {
          seen.add(use.userId);
          queue.push(use.userId);
          fragments.push(use.userId);
        }
      }
    }
    return { fragments, parts };
  }

  private async explain(user: string, check: () => Promise<unknown>): Promise<void> {
    try {
      await check();
    } catch (error) {
      if (error instanceof DomainError) {
        throw invalidArgument(
          `the change would break ${user}, which includes this fragment: ${error.message}`,
        );
      }
      throw error;
    }
  }

  /**
   * Fragments whose older revision includes `fragmentId` while a part or fragment pins that
   * revision (by number or by tag): they still need it, though their latest revision does not.
   */
  async pinnedIncluders(
    db: Db,
    fragmentId: string,
  ): Promise<Pick<FragmentUseRecord, 'userType' | 'userId'>[]> {
    const found: Pick<FragmentUseRecord, 'userType' | 'userId'>[] = [];
    for (const revision of await this.repos.fragments.listRevisionsMentioning(db, fragmentId)) {
      const includer = await this.repos.fragments.findById(db, revision.fragmentId);
      if (!includer || revision.revision === includer.revision) continue;
      if (!parseFragmentRefs(revision.config).some((r) => r.id === fragmentId)) continue;
      const tags = (await this.repos.fragments.listTags(db, includer.id))
        .filter((t) => t.revision === revision.revision)
        .map((t) => t.tag);
      const pins = (await this.repos.fragments.listUsesOf(db, includer.id)).filter(
        (u) => u.version === String(revision.revision) || tags.includes(u.version),
      );
      if (pins.length > 0) found.push({ userType: 'fragment', userId: includer.id });
    }
    return found;
  }

  /**
   * The part's config with its fragments merged in, what could not be merged, and the id of
   * every fragment it reached for at any depth (found or not: what it depends on).
   */
  async merged(
    db: Db,
    organizationId: string,
    config: Record<string, unknown>,
  ): Promise<{ config: Record<string, unknown>; statuses: MergeStatus[]; fragmentIds: string[] }> {
    const statuses: MergeStatus[] = [];
    const fragmentIds = new Set<string>();
    let refs: FragmentRef[];
    try {
      refs = parseFragmentRefs(config);
    } catch (error) {
      return {
        config: withoutFragmentKeys(config),
        statuses: [{ fragmentId: '', error: String((error as Error).message) }],
        fragmentIds: [],
      };
    }
    // Each fragment version is read once, however often the tree names it.
    const load = this.loaderFor(db, organizationId);
    const loaded = new Map<string, Promise<LoadedFragment>>();
    const loader = (ref: FragmentRef): Promise<LoadedFragment> => {
      fragmentIds.add(ref.id);
      const key = `${ref.id}@${ref.version ?? ''}`;
      let found = loaded.get(key);
      if (!found) loaded.set(key, (found = load(ref)));
      return found;
    };
    const usable: FragmentRef[] = [];
    // A fragment that stopped being usable (made private, say) is left out and reported, not fatal.
    for (const ref of refs) {
      try {
        await resolveFragmentTree([ref], loader);
        usable.push(ref);
      } catch (error) {
        statuses.push({ fragmentId: ref.id, error: (error as Error).message });
      }
    }
    const tree = await resolveFragmentTree(usable, loader);
    const result = mergeFragments(config, tree);
    return {
      config: result.config,
      statuses: [...statuses, ...result.statuses],
      fragmentIds: [...fragmentIds],
    };
  }
}

/** A user-supplied id or version for a message, cut to 64 characters. */
const clip = (value: string) => (value.length > 64 ? `${value.slice(0, 64)}...` : value);

function withoutFragmentKeys(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).filter(([key]) => key !== 'fragments' && key !== 'fragment_mods'),
  );
}
