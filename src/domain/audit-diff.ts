/** Paths listed at most in one diff; the rest are counted. */
const MAX_PATHS = 50;
/** Longest JSON text kept for one value; longer ones are cut and marked. */
const MAX_VALUE_CHARS = 200;

/** One changed place: the value before and after (absent on one side: added or removed). */
export interface ValueChange {
  before?: unknown;
  after?: unknown;
}

/**
 * A compact account of how one JSON document became another, for the audit log: the paths
 * (`components[0].attributes.pin`) whose values differ, each with its old and new value (long
 * values cut), at most 50 of them plus how many more there were. Objects are compared key by
 * key, arrays index by index; anything else that differs is a changed leaf.
 */
export function compactDiff(
  before: unknown,
  after: unknown,
): { changes: Record<string, ValueChange>; more: number } {
  const changes: Record<string, ValueChange> = {};
  let count = 0;
  const visit = (a: unknown, b: unknown, path: string): void => {
    if (isObject(a) && isObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        visit(a[key], b[key], path === '' ? key : `${path}.${key}`);
      }
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) visit(a[i], b[i], `${path}[${i}]`);
      return;
    }
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    count++;
    if (count > MAX_PATHS) return;
    const change: ValueChange = {};
    if (a !== undefined) change.before = bounded(a);
    if (b !== undefined) change.after = bounded(b);
    changes[path === '' ? '.' : path] = change;
  };
  visit(before, after, '');
  return { changes, more: Math.max(0, count - MAX_PATHS) };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value itself when its JSON is short, else the start of its JSON, marked as cut. */
function bounded(value: unknown): unknown {
  const text = JSON.stringify(value) ?? 'null';
  return text.length <= MAX_VALUE_CHARS ? value : `${text.slice(0, MAX_VALUE_CHARS)}… (cut)`;
}
