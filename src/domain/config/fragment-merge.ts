/**
 * Fragments in a part's config: parsing the `fragments` and `fragment_mods` keys, walking nested
 * fragments, and merging them into the config a machine is served.
 *
 * Pure: no SDK, no I/O (fragments are loaded through a callback). Configs are viam-server's JSON
 * format; `null` counts as absent, as it does in `robot-config.ts`.
 *
 * Merge order (highest priority first): the part's own config, then the fragments in the order
 * `resolveFragmentTree` returns them: depth-first, in listed order, each fragment followed right
 * away by the fragments it includes (before its next sibling). A fragment reached a second time
 * (a diamond) is merged once, where it is first reached. So the part beats every fragment, a
 * fragment beats the fragments it includes, and an earlier sibling (with everything under it)
 * beats a later one.
 *
 * - Named-resource lists (`RESOURCE_SECTIONS`: components, services, modules, remotes, packages by
 *   `name`, processes by `id`): resources are added in merge order; one whose name is already
 *   taken is dropped and reported in a status.
 * - Any other top-level key (network, auth, debug, jobs, log, ...): the part's value, else that of
 *   the first fragment that sets it.
 * - Then the part's `fragment_mods` apply in order to the merged config, each entry only if its
 *   fragment was merged. A mod that cannot be applied is reported and skipped; the rest apply.
 */
import { DomainError, invalidArgument } from '../errors.js';
import { child, deepCopy, fail, get, isObject, setKey, type JsonObject } from './json.js';

/** A part's direct fragment is level 1; a fragment at level 6 is refused. */
export const MAX_FRAGMENT_DEPTH = 5;

/** A reference in a `fragments` list; `version` is a revision or a tag, absent for the latest. */
export type FragmentRef = { id: string; version: string | undefined };

/** What the loader returns for a reference: the revision it resolved to and that revision's config. */
export type LoadedFragment = { id: string; revision: string; config: Record<string, unknown> };

/** A fragment to merge: its config has no `fragments` / `fragment_mods` keys. */
export type ResolvedFragment = {
  id: string;
  revision: string;
  /** 1 for a part's direct fragment, 2 for a fragment one of those includes, ... */
  depth: number;
  config: Record<string, unknown>;
};

/** One `$set` or `$unset` on a dotted path, as listed in `fragment_mods`. */
export type FragmentMod = { op: '$set'; path: string; value: unknown } | { op: '$unset'; path: string };

/** One `fragment_mods` entry; each `{"$set": {p1: v1, p2: v2}}` becomes one mod per path, in order. */
export type FragmentModSet = { fragmentId: string; mods: FragmentMod[] };

/** A problem merging a fragment (maps to `overwrite_fragment_status`); it never stops the merge. */
/** Something that could not be merged; `failedMod` marks a `fragment_mods` entry that failed. */
export type MergeStatus = { fragmentId: string; error: string; failedMod?: boolean };

/** Top-level lists of named resources, with the key that names each item. */
export const RESOURCE_SECTIONS: ReadonlyMap<string, 'name' | 'id'> = new Map<string, 'name' | 'id'>([
  ['components', 'name'],
  ['services', 'name'],
  ['modules', 'name'],
  ['remotes', 'name'],
  ['processes', 'id'],
  ['packages', 'name'],
]);

const FRAGMENT_KEYS = new Set(['fragments', 'fragment_mods']);

// ---------------------------------------------------------------------------------------------
// Helpers

/** A deep copy of a config without its `fragments` and `fragment_mods` keys. */
function withoutFragmentKeys(config: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(config)) {
    if (!FRAGMENT_KEYS.has(key) && value !== undefined) setKey(out, key, deepCopy(value));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * The references in a config's `fragments` key (absent or null: none). Each item is a non-empty
 * fragment id, or an object with a non-empty string `id` and an optional string `version` (an
 * empty or null version means the latest; other keys are ignored). An id listed twice is refused.
 * Errors are INVALID_ARGUMENT naming the key path, e.g. `fragments[1].id: must be a non-empty string`.
 */
export function parseFragmentRefs(config: Record<string, unknown>, path = 'fragments'): FragmentRef[] {
  const value = get(config, 'fragments');
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(path, 'must be a list of fragment ids or {"id", "version"} objects');
  const seen = new Map<string, string>();
  return value.map((item: unknown, i) => {
    const itemPath = `${path}[${i}]`;
    let ref: FragmentRef;
    if (typeof item === 'string') {
      if (item === '') fail(itemPath, 'must be a non-empty string');
      ref = { id: item, version: undefined };
    } else if (isObject(item)) {
      const id = get(item, 'id');
      if (typeof id !== 'string' || id === '') fail(`${itemPath}.id`, 'must be a non-empty string');
      const version = get(item, 'version');
      if (version !== undefined && typeof version !== 'string')
        fail(`${itemPath}.version`, 'must be a string');
      ref = { id, version: version === '' ? undefined : version };
    } else {
      fail(itemPath, 'must be a fragment id or an object with an "id"');
    }
    const first = seen.get(ref.id);
    if (first !== undefined) fail(itemPath, `fragment ${ref.id} is listed twice (also at ${first})`);
    seen.set(ref.id, itemPath);
    return ref;
  });
}

const OPERATORS = new Set(['$set', '$unset']);

/**
 * The config's `fragment_mods` (absent or null: none): a list of
 * `{"fragment_id": ID, "mods": [{"$set": {path: value, ...}} | {"$unset": {path: "", ...}}, ...]}`.
 * Paths are dotted, of non-empty segments; they may not start at `fragments` or `fragment_mods`.
 * Errors are INVALID_ARGUMENT naming the key path, e.g. `fragment_mods[0].mods[1]: ...`.
 */
export function parseFragmentMods(config: Record<string, unknown>): FragmentModSet[] {
  const path = 'fragment_mods';
  const value = get(config, path);
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(path, 'must be a list of {"fragment_id", "mods"} objects');
  return value.map((entry: unknown, i) => {
    const entryPath = `${path}[${i}]`;
    if (!isObject(entry)) fail(entryPath, 'must be an object with "fragment_id" and "mods"');
    const fragmentId = get(entry, 'fragment_id');
    if (typeof fragmentId !== 'string' || fragmentId === '') {
      fail(`${entryPath}.fragment_id`, 'must be a non-empty string');
    }
    const modsPath = `${entryPath}.mods`;
    const mods = get(entry, 'mods');
    if (!Array.isArray(mods)) fail(modsPath, 'must be a list of {"$set": ...} or {"$unset": ...} objects');
    const out: FragmentMod[] = [];
    mods.forEach((mod: unknown, j) => {
      const modPath = `${modsPath}[${j}]`;
      if (!isObject(mod)) fail(modPath, 'must be an object with one key, "$set" or "$unset"');
      const keys = Object.keys(mod);
      const op = keys[0];
      if (keys.length !== 1 || op === undefined)
        fail(modPath, 'must have exactly one key, "$set" or "$unset"');
      const opPath = child(modPath, op);
      if (!OPERATORS.has(op)) fail(opPath, 'unknown operator; only "$set" and "$unset" are supported');
      const paths = mod[op];
      if (!isObject(paths)) fail(opPath, 'must be an object of dotted paths to values');
      for (const [dotted, v] of Object.entries(paths)) {
        checkModPath(dotted, child(opPath, dotted));
        out.push(op === '$set' ? { op, path: dotted, value: deepCopy(v) } : { op: '$unset', path: dotted });
      }
    });
    return { fragmentId, mods: out };
  });
}

function checkModPath(dotted: string, where: string): void {
  const segments = dotted.split('.');
  if (segments.some((s) => s === '')) fail(where, 'must be a dotted path of non-empty segments');
  if (segments.includes('__proto__')) fail(where, 'the segment "__proto__" is not allowed');
  if (FRAGMENT_KEYS.has(segments[0] ?? '')) fail(where, `${segments[0]} cannot be modified by a mod`);
}

// ---------------------------------------------------------------------------------------------
// Nested fragments

type Subtree = { height: number; ids: ReadonlySet<string> };

/**
 * Loads the part's fragments and, through their `fragments` keys, every fragment they include,
 * and returns them flattened in merge order (highest priority first; see the top of this file).
 * `load` is called once per distinct (id, version), with the level it is first reached at, and
 * throws its own errors for a missing or unusable fragment. Every reference is loaded and checked,
 * including those under a fragment already reached, which are not merged again.
 *
 * Refused (INVALID_ARGUMENT): a fragment that includes itself, directly or not
 * (`fragment a includes itself through a -> b -> a`), any path deeper than MAX_FRAGMENT_DEPTH
 * (`fragments nest at most 5 levels deep: a -> b -> c -> d -> e -> f`), and an invalid
 * `fragments` key in a fragment (`fragment a: fragments[0]: ...`).
 */
export async function resolveFragmentTree(
  root: FragmentRef[],
  load: (ref: FragmentRef, depth: number) => Promise<LoadedFragment>,
): Promise<ResolvedFragment[]> {
  const out: ResolvedFragment[] = [];
  const emitted = new Set<string>();
  const loads = new Map<string, Promise<LoadedFragment>>();
  const walked = new Map<string, Subtree>();

  const loadOnce = (ref: FragmentRef, depth: number, key: string) => {
    let loading = loads.get(key);
    if (loading === undefined) {
      loading = load(ref, depth);
      loads.set(key, loading);
    }
    return loading;
  };

  const walk = async (ref: FragmentRef, depth: number, chain: string[], emit: boolean): Promise<Subtree> => {
    const at = chain.indexOf(ref.id);
    if (at >= 0) {
      const cycle = [...chain.slice(at), ref.id].join(' -> ');
      throw invalidArgument(`fragment ${ref.id} includes itself through ${cycle}`);
    }
    if (depth > MAX_FRAGMENT_DEPTH) {
      const path = [...chain, ref.id].join(' -> ');
      throw invalidArgument(`fragments nest at most ${MAX_FRAGMENT_DEPTH} levels deep: ${path}`);
    }
    const key = JSON.stringify([ref.id, ref.version ?? null]);
    const emitHere = emit && !emitted.has(ref.id);
    // A subtree already walked needs no second walk unless it must now be merged, or would go
    // too deep from here, or holds one of this path's fragments (a cycle); a second walk of it
    // then raises the precise error.
    const known = walked.get(key);
    if (
      known !== undefined &&
      !emitHere &&
      depth + known.height - 1 <= MAX_FRAGMENT_DEPTH &&
      !chain.some((id) => known.ids.has(id))
    ) {
      return known;
    }

    const loaded = await loadOnce(ref, depth, key);
    let refs: FragmentRef[];
    try {
      refs = parseFragmentRefs(loaded.config);
    } catch (e) {
      if (e instanceof DomainError) throw invalidArgument(`fragment ${ref.id}: ${e.message}`);
      throw e;
    }
    if (emitHere) {
      emitted.add(ref.id);
      out.push({
        id: loaded.id,
        revision: loaded.revision,
        depth,
        config: withoutFragmentKeys(loaded.config),
      });
    }
    let height = 1;
    const ids = new Set([ref.id]);
    const below = [...chain, ref.id];
    for (const next of refs) {
      const sub = await walk(next, depth + 1, below, emitHere);
      height = Math.max(height, sub.height + 1);
      for (const id of sub.ids) ids.add(id);
    }
    const subtree = { height, ids };
    walked.set(key, subtree);
    return subtree;
  };

  for (const ref of root) await walk(ref, 1, [], true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Merging

/**
 * The part's config (without `fragments` / `fragment_mods`) merged with `fragments` (in the
 * order `resolveFragmentTree` returns), then the part's `fragment_mods` applied. Inputs are not
 * modified. Throws INVALID_ARGUMENT only for a malformed `fragment_mods` key; everything else that
 * goes wrong (a dropped duplicate resource, a mod that cannot be applied, mods for a fragment the
 * part does not use) is reported in `statuses` and the rest is merged.
 */
export function mergeFragments(
  partConfig: Record<string, unknown>,
  fragments: ResolvedFragment[],
): { config: Record<string, unknown>; statuses: MergeStatus[] } {
  const modSets = parseFragmentMods(partConfig);
  const config = withoutFragmentKeys(partConfig);
  const statuses: MergeStatus[] = [];

  // Who defines each named resource so far, per section: a fragment id, or null for the part.
  const owners = new Map<string, Map<string, string | null>>();
  for (const [section, nameKey] of RESOURCE_SECTIONS) {
    const names = new Map<string, string | null>();
    owners.set(section, names);
    const list = get(config, section);
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const name = resourceName(item, nameKey);
      if (name !== undefined && !names.has(name)) names.set(name, null);
    }
  }

  for (const fragment of fragments) {
    const report = (error: string) => statuses.push({ fragmentId: fragment.id, error });
    for (const [key, value] of Object.entries(fragment.config)) {
      if (FRAGMENT_KEYS.has(key) || value === undefined || value === null) continue;
      const nameKey = RESOURCE_SECTIONS.get(key);
      if (nameKey === undefined) {
        if (get(config, key) === undefined) setKey(config, key, deepCopy(value));
        continue;
      }
      if (!Array.isArray(value)) {
        report(`${key} from fragment ${fragment.id} was dropped: it is not a list`);
        continue;
      }
      let list = get(config, key);
      if (list === undefined) {
        list = [];
        setKey(config, key, list);
      }
      if (!Array.isArray(list)) {
        report(`${key} from fragment ${fragment.id} was dropped: the part's ${key} is not a list`);
        continue;
      }
      const names = owners.get(key)!;
      value.forEach((item: unknown, i) => {
        const name = resourceName(item, nameKey);
        if (name === undefined) {
          report(`${key}[${i}] from fragment ${fragment.id} was dropped: it has no ${nameKey}`);
          return;
        }
        const owner = names.get(name);
        if (owner !== undefined) {
          const by = owner === null ? 'the part defines it' : `fragment ${owner} defines it`;
          report(`${key} ${JSON.stringify(name)} from fragment ${fragment.id} was dropped: ${by}`);
          return;
        }
        names.set(name, fragment.id);
        (list as unknown[]).push(deepCopy(item));
      });
    }
  }

  const merged = new Set(fragments.map((f) => f.id));
  for (const { fragmentId, mods } of modSets) {
    if (!merged.has(fragmentId)) {
      statuses.push({
        fragmentId,
        error: `fragment_mods for fragment ${fragmentId} were not applied: the part does not use that fragment`,
        failedMod: true,
      });
      continue;
    }
    for (const mod of mods) {
      const problem = applyMod(config, mod);
      if (problem !== undefined) {
        statuses.push({
          fragmentId,
          error: `fragment_mods for fragment ${fragmentId}: ${mod.op} ${JSON.stringify(mod.path)} was not applied: ${problem}`,
          failedMod: true,
        });
      }
    }
  }
  return { config, statuses };
}

function resourceName(item: unknown, nameKey: string): string | undefined {
  if (!isObject(item)) return undefined;
  const name = get(item, nameKey);
  return typeof name === 'string' && name !== '' ? name : undefined;
}

const INDEX = /^(0|[1-9][0-9]*)$/;

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  return isObject(value) ? 'an object' : `a ${typeof value}`;
}

/**
 * Applies one mod to `config` in place; returns why it cannot be applied (then nothing changed),
 * or undefined once applied.
 *
 * Segments walk object keys; in a top-level resource list a segment is a resource's name (id for
 * processes); in any other list it is an index (in range). `$set` creates missing or null
 * intermediate objects, replaces a named resource only with an object of the same name, and never
 * adds one. `$unset` deletes a key (already absent: nothing to do), removes a named resource or a
 * list item.
 */
function applyMod(config: JsonObject, mod: FragmentMod): string | undefined {
  const segments = mod.path.split('.');
  const last = segments.length - 1;
  let node: unknown = config;
  let nameKey: 'name' | 'id' | undefined; // set while `node` is a top-level resource list
  let section = '';
  // Only the last step changes anything, and once `$set` has created an object every later step
  // applies, so a mod that fails leaves the config as it was.
  for (let i = 0; i <= last; i++) {
    const seg = segments[i]!;
    const here = segments.slice(0, i).join('.');
    const isLast = i === last;

    if (Array.isArray(node)) {
      let index: number;
      if (nameKey !== undefined) {
        const key = nameKey;
        index = node.findIndex((item) => resourceName(item, key) === seg);
        if (index < 0) return `${section} has no ${JSON.stringify(seg)}`;
        if (isLast && mod.op === '$set') {
          if (!isObject(mod.value)) return `an entry of ${section} can only be replaced by an object`;
          const named = get(mod.value, key);
          if (named !== undefined && named !== seg) {
            return `the new value's ${key} is not ${JSON.stringify(seg)}`;
          }
        }
      } else {
        if (!INDEX.test(seg) || Number(seg) >= node.length) {
          return `${here} is a list of ${node.length}, which has no index ${JSON.stringify(seg)}`;
        }
        index = Number(seg);
      }
      if (isLast) {
        if (mod.op === '$unset') {
          node.splice(index, 1);
        } else {
          const value = deepCopy(mod.value);
          if (nameKey !== undefined) setKey(value as JsonObject, nameKey, seg);
          node[index] = value;
        }
        return undefined;
      }
      node = node[index];
      nameKey = undefined;
      continue;
    }

    if (!isObject(node)) return `${here} is ${kindOf(node)}, not an object`;
    if (isLast) {
      if (mod.op === '$unset') delete node[seg];
      else setKey(node, seg, deepCopy(mod.value));
      return undefined;
    }
    let next = get(node, seg);
    const sectionKey = node === config ? RESOURCE_SECTIONS.get(seg) : undefined;
    if (sectionKey !== undefined) {
      if (next === undefined) return `the config has no ${seg}`;
      if (!Array.isArray(next)) return `${seg} is ${kindOf(next)}, not a list`;
      nameKey = sectionKey;
      section = seg;
    } else if (next === undefined) {
      if (mod.op === '$unset') return undefined; // nothing to remove under a missing key
      next = {};
      setKey(node, seg, next);
    }
    node = next;
  }
  return undefined;
}
