/**
 * The one set of JSON helpers for configs: type guards, a plain-JSON check, a deep copy, and
 * readers of typed fields whose errors name the offending key path
 * (`components[1].name: must be a non-empty string`).
 *
 * Conventions shared by every config module: only own properties are read; `null` counts as
 * absent; properties are only ever defined as own data properties, never assigned, so a key such
 * as `__proto__` or `constructor` stays plain data and never reaches a prototype.
 */
import { invalidArgument } from '../errors.js';

export type JsonObject = { [key: string]: unknown };

/** An object being built in protobuf JSON form. */
export type ProtoJson = Record<string, unknown>;

/** Deepest nesting accepted anywhere in a config (the top-level object is level 1). */
export const MAX_CONFIG_DEPTH = 64;

// ---------------------------------------------------------------------------------------------
// Paths and errors

/** INVALID_ARGUMENT `<path>: <message>`; the empty path is the config itself. */
export function fail(path: string, message: string): never {
  throw invalidArgument(`${path || 'config'}: ${message}`);
}

/**
 * Keys shown bare in a path (`a.b`, `mods[0].$set`); any other key is quoted (`a["my key"]`).
 */
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;
/** Longest piece of user input echoed in a message (a key in a path, a value). */
const ECHO_LIMIT = 64;

/** A user-supplied string for a message: quoted, cut to ECHO_LIMIT characters. */
export function quote(value: string): string {
  return value.length > ECHO_LIMIT
    ? `${JSON.stringify(value.slice(0, ECHO_LIMIT))}...`
    : JSON.stringify(value);
}

/** The path of `key` under `path`: `a.b`, or `a["b c"]` for a key that is not an identifier. */
export function child(path: string, key: string): string {
  if (!IDENTIFIER.test(key) || key.length > ECHO_LIMIT) return `${path}[${quote(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

// ---------------------------------------------------------------------------------------------
// Guards, access, copies

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own property of a JSON object; `null` and `undefined` count as absent. */
export function get(obj: JsonObject, key: string): unknown {
  if (!Object.hasOwn(obj, key)) return undefined;
  const value = obj[key];
  return value === null ? undefined : value;
}

const DATA = { enumerable: true, writable: true, configurable: true } as const;

/** Sets an own data property, even for a key like `__proto__` (never assigns through a prototype). */
export function setKey(obj: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, ...DATA });
}

/** Sets `key` unless `value` is undefined. */
export function put(out: ProtoJson, key: string, value: unknown): void {
  if (value !== undefined) setKey(out, key, value);
}

/**
 * A deep copy of JSON data built from own enumerable properties only, as own data properties
 * (a `__proto__` key stays a key); undefined object members are left out.
 */
export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) setKey(out, key, deepCopy(item));
    }
    return out as T;
  }
  return value;
}

/** Plain JSON only, nested at most MAX_CONFIG_DEPTH levels; `__proto__` keys are refused. */
export function checkJson(value: unknown, path: string, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(path, 'must be a finite number');
    return;
  }
  if (typeof value !== 'object') fail(path, 'must be a JSON value');
  if (depth > MAX_CONFIG_DEPTH) fail(path, `nested deeper than ${MAX_CONFIG_DEPTH} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (item === undefined) fail(`${path}[${i}]`, 'must be a JSON value');
      checkJson(item, `${path}[${i}]`, depth + 1);
    });
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) fail(path, 'must be a JSON value');
  for (const [key, item] of Object.entries(value)) {
    if (key === '__proto__') fail(path, 'the key "__proto__" is not allowed');
    if (item !== undefined) checkJson(item, child(path, key), depth + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Readers of typed fields: `obj[key]` under `path`; absent (or null) gives undefined

export function str(obj: JsonObject, key: string, path: string): string | undefined {
  const value = get(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(child(path, key), 'must be a string');
  return value;
}

export function requiredStr(obj: JsonObject, key: string, path: string): string {
  const value = get(obj, key);
  if (typeof value !== 'string' || value === '') fail(child(path, key), 'must be a non-empty string');
  return value;
}

export function bool(obj: JsonObject, key: string, path: string): boolean | undefined {
  const value = get(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail(child(path, key), 'must be true or false');
  return value;
}

/** A number; absent means 0. */
export function num(obj: JsonObject, key: string, path: string): number {
  const value = get(obj, key);
  if (value === undefined) return 0;
  if (typeof value !== 'number') fail(child(path, key), 'must be a number');
  return value;
}

export function object(obj: JsonObject, key: string, path: string): JsonObject | undefined {
  const value = get(obj, key);
  if (value === undefined) return undefined;
  if (!isObject(value)) fail(child(path, key), 'must be an object');
  return value;
}

/** A JSON object passed through (copied) as a google.protobuf.Struct. */
export function struct(obj: JsonObject, key: string, path: string): JsonObject | undefined {
  const value = object(obj, key, path);
  return value === undefined ? undefined : deepCopy(value);
}

export function strList(obj: JsonObject, key: string, path: string): string[] | undefined {
  const value = get(obj, key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    fail(child(path, key), 'must be a list of strings');
  }
  return [...value];
}

/** A map<string, string>: an object whose values are all strings. */
export function strMap(obj: JsonObject, key: string, path: string): Record<string, string> | undefined {
  const value = object(obj, key, path);
  if (value === undefined) return undefined;
  const here = child(path, key);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(child(here, k), 'must be a string');
    setKey(out, k, v);
  }
  return out;
}

/** An object converted by `convert`, which gets the object's own path. */
export function section(
  obj: JsonObject,
  key: string,
  path: string,
  convert: (value: JsonObject, path: string) => ProtoJson,
): ProtoJson | undefined {
  const value = object(obj, key, path);
  return value === undefined ? undefined : convert(value, child(path, key));
}

/** A list of objects, each with its path (`key[i]`). */
export function items(obj: JsonObject, key: string, path: string): [JsonObject, string][] | undefined {
  const value = get(obj, key);
  if (value === undefined) return undefined;
  const here = child(path, key);
  if (!Array.isArray(value)) fail(here, 'must be a list of objects');
  return value.map((item, i) => {
    const itemPath = `${here}[${i}]`;
    if (!isObject(item)) fail(itemPath, 'must be an object');
    return [item, itemPath];
  });
}

/** A list of objects, each converted by `convert`. */
export function list(
  obj: JsonObject,
  key: string,
  path: string,
  convert: (value: JsonObject, path: string) => ProtoJson,
): ProtoJson[] | undefined {
  return items(obj, key, path)?.map(([item, itemPath]) => convert(item, itemPath));
}
