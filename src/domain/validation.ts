import { invalidArgument } from './errors.js';
import { isUuid } from './ids.js';

/** Longest name (organization, location, key) accepted, in characters. */
export const MAX_NAME_LENGTH = 256;

/** A trimmed, non-empty name of bounded length, or INVALID_ARGUMENT naming the field. */
export function requireName(value: string | undefined, field: string): string {
  const name = (value ?? '').trim();
  if (name === '') throw invalidArgument(`${field} must not be empty`);
  if (name.length > MAX_NAME_LENGTH)
    throw invalidArgument(`${field} is longer than ${MAX_NAME_LENGTH} characters`);
  return name;
}

/** A free-text field that may be empty (a region, a CRM id), of bounded length. */
export function boundedText(value: string, field: string): string {
  if (value.length > MAX_NAME_LENGTH)
    throw invalidArgument(`${field} is longer than ${MAX_NAME_LENGTH} characters`);
  return value;
}

/** A non-empty id argument, or INVALID_ARGUMENT naming the field. */
export function requireId(value: string | undefined, field: string): string {
  const id = value ?? '';
  if (id === '') throw invalidArgument(`${field} is required`);
  if (id.length > 128) throw invalidArgument(`${field} is too long`);
  return id;
}

const NAMESPACE_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A public namespace: lowercase letters, digits and dashes, 1 to 63 characters, no dash at either end. */
export function requireNamespace(value: string | undefined): string {
  const ns = value ?? '';
  if (ns === '') throw invalidArgument('public namespace must not be empty');
  if (!NAMESPACE_RE.test(ns)) {
    throw invalidArgument(
      'public namespace may hold only lowercase letters, digits and dashes (1-63 characters, no dash at either end)',
    );
  }
  // Registry ids are `<namespace or organization id>:<name>`: a namespace shaped like an id would be ambiguous.
  if (isUuid(ns)) throw invalidArgument('public namespace must not have the form of an organization id');
  return ns;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

/** A plausible email address, lowercased; INVALID_ARGUMENT otherwise. */
export function requireEmail(value: string | undefined): string {
  const email = (value ?? '').trim().toLowerCase();
  if (!EMAIL_RE.test(email) || email.length > 320) throw invalidArgument('email is not a valid address');
  return email;
}

/** Largest metadata document accepted, in bytes of its JSON encoding. */
export const MAX_METADATA_BYTES = 64 * 1024;

/** A JSON object of bounded size, serialized; INVALID_ARGUMENT otherwise. */
export function serializeMetadata(data: Record<string, unknown>): string {
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw invalidArgument(`metadata is larger than ${MAX_METADATA_BYTES} bytes`);
  }
  return json;
}
