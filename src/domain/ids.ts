import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A new UUID, the id of every object except locations. */
export const newId = (): string => randomUUID();

/** A random string of `length` characters from [a-z0-9], drawn without modulo bias. */
export function randomLowerAlnum(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += LOWER_ALNUM[randomInt(LOWER_ALNUM.length)];
  return out;
}

/** A new location id: 10 characters of [a-z0-9], the shape Viam uses. */
export const newLocationId = (): string => randomLowerAlnum(10);

/** A new API key value: 32 characters of [a-z0-9], about 165 bits of entropy. */
export const newApiKeyValue = (): string => randomLowerAlnum(32);

/** A new location or part secret: 32 random bytes, base64url (256 bits). */
export const newSharedSecret = (): string => randomBytes(32).toString('base64url');

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID_RE.test(value);
