import { invalidArgument } from './errors.js';

/** A parsed semantic version (semver.org 2.0.0): `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`. */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated identifiers after `-`; empty for a release. */
  prerelease: string[];
}

const NUMBER = '(0|[1-9]\\d*)';
const PRERELEASE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER_RE = new RegExp(
  `^${NUMBER}\\.${NUMBER}\\.${NUMBER}` +
    `(?:-(${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*))?` +
    '(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$',
);

/** Longest version string accepted. */
export const MAX_VERSION_LENGTH = 128;

/** The version, or undefined if it is not semver 2.0.0 (no leading `v`, no leading zeros). */
export function parseSemVer(value: string): SemVer | undefined {
  if (value.length > MAX_VERSION_LENGTH) return undefined;
  const match = SEMVER_RE.exec(value);
  if (!match) return undefined;
  const parts = [match[1], match[2], match[3]].map(Number);
  if (parts.some((n) => !Number.isSafeInteger(n))) return undefined;
  return {
    major: parts[0] ?? 0,
    minor: parts[1] ?? 0,
    patch: parts[2] ?? 0,
    prerelease: match[4] ? match[4].split('.') : [],
  };
}

/** A semver string, or INVALID_ARGUMENT naming the field. */
export function requireSemVer(value: string, field: string): string {
  if (!parseSemVer(value)) {
    throw invalidArgument(`${field} must be a semantic version such as 1.2.0 (got "${value.slice(0, 64)}")`);
  }
  return value;
}

const isNumeric = (id: string) => /^\d+$/.test(id);

function comparePrerelease(a: string[], b: string[]): number {
  // A release sorts after every prerelease of the same version.
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x === y) continue;
    if (isNumeric(x) && isNumeric(y)) return Number(x) - Number(y);
    if (isNumeric(x)) return -1;
    if (isNumeric(y)) return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Semver precedence of two version strings (negative, zero, positive). Build metadata does not
 * count; versions that parse equal fall back to comparing the strings, so the order is total.
 */
export function compareSemVer(a: string, b: string): number {
  const x = parseSemVer(a);
  const y = parseSemVer(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  const byPrecedence =
    x.major - y.major ||
    x.minor - y.minor ||
    x.patch - y.patch ||
    comparePrerelease(x.prerelease, y.prerelease);
  if (byPrecedence !== 0) return byPrecedence;
  return a < b ? -1 : a > b ? 1 : 0;
}
