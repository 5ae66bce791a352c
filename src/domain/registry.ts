import { invalidArgument } from './errors.js';
import { requireSemVer } from './semver.js';

/** What a registry item holds (PackageType on the wire). */
export type RegistryItemType = 'archive' | 'ml_model' | 'module' | 'slam_map' | 'ml_training';

/** Private items are seen only inside their organization; public and public-unlisted ones by everyone. */
export type RegistryVisibility = 'private' | 'public' | 'public_unlisted';

/** An item is published once it has at least one uploaded file, in development before. */
export type RegistryItemStatus = 'published' | 'in_development';

/** Longest registry item name, in characters. */
export const MAX_ITEM_NAME_LENGTH = 128;
const ITEM_NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;

/** A registry item name: lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export function requireItemName(value: string | undefined, field: string): string {
  const name = value ?? '';
  if (name === '') throw invalidArgument(`${field} must not be empty`);
  if (name.length > MAX_ITEM_NAME_LENGTH) {
    throw invalidArgument(`${field} is longer than ${MAX_ITEM_NAME_LENGTH} characters`);
  }
  if (!ITEM_NAME_RE.test(name)) {
    throw invalidArgument(
      `${field} may hold only lowercase letters, digits, "-" and "_", and must start with a letter or digit`,
    );
  }
  return name;
}

/** A registry item id as written by callers: `<namespace>:<name>` or `<organization id>:<name>`. */
export interface ItemIdParts {
  /** A public namespace or an organization id. */
  prefix: string;
  name: string;
}

/** Splits an item id at its colon; INVALID_ARGUMENT if it is not `prefix:name`. */
export function parseItemId(value: string | undefined, field: string): ItemIdParts {
  const id = value ?? '';
  if (id === '') throw invalidArgument(`${field} is required`);
  const colon = id.indexOf(':');
  const prefix = colon > 0 ? id.slice(0, colon) : '';
  const name = colon > 0 ? id.slice(colon + 1) : '';
  if (prefix === '' || name === '' || prefix.length > 128 || name.includes(':')) {
    throw invalidArgument(
      `${field} must be "<namespace>:<name>" or "<organization id>:<name>" (got "${id.slice(0, 64)}")`,
    );
  }
  return { prefix, name: requireItemName(name, `the name in ${field}`) };
}

/** The id callers see: the organization's namespace if it has one, else its id, then the name. */
export const itemIdOf = (organization: { id: string; publicNamespace: string | undefined }, name: string) =>
  `${organization.publicNamespace || organization.id}:${name}`;

const PLATFORM_SEGMENT = '[a-z0-9][a-z0-9_.-]{0,31}';
const PLATFORM_RE = new RegExp(`^(?:any|${PLATFORM_SEGMENT}/${PLATFORM_SEGMENT}(?:/${PLATFORM_SEGMENT})?)$`);

/** A build platform: `any`, or `<os>/<arch>` with an optional variant (`linux/amd64`, `linux/arm/v7`). */
export function requirePlatform(value: string | undefined): string {
  const platform = value ?? '';
  if (!PLATFORM_RE.test(platform)) {
    throw invalidArgument(
      `platform must be "any" or "<os>/<arch>" in lowercase, such as linux/amd64 (got "${platform.slice(0, 64)}")`,
    );
  }
  return platform;
}

/** A model a module provides: the API it implements and its own name, both colon triplets. */
export interface ModuleModel {
  api: string;
  model: string;
  description?: string | undefined;
  markdownDocumentation?: string | undefined;
  supportedHardware: string[];
}

const TRIPLET_RE = /^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/;
/** Most models a module may list. */
export const MAX_MODELS = 1000;

/** Models with API and model triplets such as `rdk:component:motor` and `acme:motors:mover`. */
export function requireModels(models: readonly ModuleModel[]): ModuleModel[] {
  if (models.length > MAX_MODELS) throw invalidArgument(`a module lists at most ${MAX_MODELS} models`);
  return models.map((m, i) => {
    if (!TRIPLET_RE.test(m.api)) {
      throw invalidArgument(
        `models[${i}].api must be a triplet such as rdk:component:motor (got "${m.api.slice(0, 64)}")`,
      );
    }
    if (!TRIPLET_RE.test(m.model)) {
      throw invalidArgument(
        `models[${i}].model must be a triplet such as acme:motors:mover (got "${m.model.slice(0, 64)}")`,
      );
    }
    boundedField(m.description ?? '', `models[${i}].description`, MAX_DESCRIPTION_LENGTH);
    boundedField(m.markdownDocumentation ?? '', `models[${i}].markdown_documentation`, MAX_MARKDOWN_LENGTH);
    return { ...m, supportedHardware: [...m.supportedHardware] };
  });
}

export const MAX_DESCRIPTION_LENGTH = 4096;
export const MAX_MARKDOWN_LENGTH = 64 * 1024;
export const MAX_ENTRYPOINT_LENGTH = 1024;
export const MAX_URL_LENGTH = 2048;

/** Text of at most `max` characters, or INVALID_ARGUMENT naming the field. */
export function boundedField(value: string, field: string, max: number): string {
  if (value.length > max) throw invalidArgument(`${field} is longer than ${max} characters`);
  return value;
}

/** An item's documentation URL: empty, or an absolute http(s) URL. */
export function requireDocsUrl(value: string): string {
  if (value === '') return value;
  boundedField(value, 'url', MAX_URL_LENGTH);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw invalidArgument('url must be an http:// or https:// address');
  }
  return value;
}

/**
 * A module version: semver without build metadata. Versions that differ only after `+` have the
 * same precedence, so a machine could not tell which of them is newer.
 */
export function requireModuleVersion(value: string): string {
  requireSemVer(value, 'version');
  if (value.includes('+')) {
    throw invalidArgument(`version may not carry build metadata ("+...") (got "${value.slice(0, 64)}")`);
  }
  return value;
}
