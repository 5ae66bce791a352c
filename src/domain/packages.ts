/**
 * Packages as viam-server asks for them (`viam.app.packages.v1`): ids, versions, platforms, and
 * which stored file a machine gets. Pure: no I/O.
 */
import { invalidArgument } from './errors.js';
import { requireItemName, requireModuleVersion, type RegistryItemType } from './registry.js';
import { compareSemVer, parseSemVer } from './semver.js';

/** A package id as written by callers: `<organization id>/<name>` or `<namespace>/<name>`. */
export function parsePackageId(value: string, field: string): { prefix: string; name: string } {
  const slash = value.indexOf('/');
  const prefix = slash > 0 ? value.slice(0, slash) : '';
  const name = slash > 0 ? value.slice(slash + 1) : '';
  if (prefix === '' || name === '' || prefix.length > 128 || name.includes('/')) {
    throw invalidArgument(
      `${field} must be "<organization id>/<name>" or "<namespace>/<name>" (got "${value.slice(0, 64)}")`,
    );
  }
  return { prefix, name: requireItemName(name, `the name in ${field}`) };
}

/** The id GetPackage and the served config use: always the organization id, never a namespace. */
export const packageIdOf = (organizationId: string, name: string) => `${organizationId}/${name}`;

/**
 * The local name viam-server gives a registry module's package (`${packages.module.<name>}`):
 * the module id with its colon made an underscore, which rdk's package name rule accepts.
 */
export const packageNameForModule = (moduleId: string) => moduleId.replace(':', '_');

/** Version words a config may use instead of a concrete version. */
export const LATEST = 'latest';
export const LATEST_WITH_PRERELEASE = 'latest-with-prerelease';

const GENERIC_VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The version of a new package: a semantic version for modules (as UploadModuleFile takes), and
 * for other packages any short word of letters, digits, `.`, `_` and `-` (ML model versions are
 * often timestamps).
 */
export function requirePackageVersion(type: RegistryItemType, version: string): string {
  if (type === 'module') return requireModuleVersion(version);
  if (!GENERIC_VERSION_RE.test(version) || version === LATEST || version === LATEST_WITH_PRERELEASE) {
    throw invalidArgument(
      `version must be 1 to 128 letters, digits, ".", "_" or "-", and not "latest" (got "${version.slice(0, 64)}")`,
    );
  }
  return version;
}

const OS_WORDS = ['linux', 'darwin', 'windows', 'android'];
const SUFFIX_RE = new RegExp(`^(.+)-(${OS_WORDS.join('|')})-([a-z0-9_]+)$`);

/**
 * Viam's CLI asks for `<version>-<os>-<arch>` (such as `1.2.0-linux-arm64`): the version and the
 * platform it names, or the string unchanged when it carries no such suffix.
 */
export function splitPlatformSuffix(version: string): { version: string; platform: string | undefined } {
  const match = SUFFIX_RE.exec(version);
  if (!match) return { version, platform: undefined };
  return { version: match[1] ?? version, platform: `${match[2]}/${match[3]}` };
}

/** The file for a platform: the one built for it, else the one for `any`. */
export function pickFile<F extends { platform: string }>(
  files: readonly F[],
  platform: string,
): F | undefined {
  return files.find((f) => f.platform === platform) ?? files.find((f) => f.platform === 'any');
}

/** A stored version with what a choice needs. */
export interface VersionCandidate {
  version: string;
  createdAt: string;
  files: readonly { platform: string }[];
}

/**
 * The version a word or a concrete version means, among those with a file for the platform:
 * `latest` is the newest release (semver order; upload order for versions that are not semver),
 * `latest-with-prerelease` the newest including prereleases, anything else itself.
 */
export function chooseVersion<V extends VersionCandidate>(
  versions: readonly V[],
  wanted: string,
  platform: string,
): { version: V; file: V['files'][number] } | undefined {
  const usable = versions.flatMap((version) => {
    const file = pickFile(version.files, platform);
    return file ? [{ version, file }] : [];
  });
  if (wanted !== LATEST && wanted !== LATEST_WITH_PRERELEASE) {
    return usable.find((c) => c.version.version === wanted);
  }
  const allSemVer = usable.every((c) => parseSemVer(c.version.version));
  const candidates = usable.filter(
    (c) =>
      wanted === LATEST_WITH_PRERELEASE ||
      !allSemVer ||
      (parseSemVer(c.version.version)?.prerelease.length ?? 0) === 0,
  );
  candidates.sort((a, b) =>
    allSemVer
      ? compareSemVer(a.version.version, b.version.version)
      : a.version.createdAt.localeCompare(b.version.createdAt),
  );
  return candidates.at(-1);
}
