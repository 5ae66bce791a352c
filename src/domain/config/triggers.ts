/**
 * Machine alerts as Viam configures them: a part config's top-level `triggers` list.
 *
 * ```json
 * "triggers": [{
 *   "name": "arm errors",
 *   "event": {"type": "conditional_logs_ingested", "attributes": {"log_levels": ["error"]}},
 *   "notifications": [{"type": "webhook", "value": "https://hooks.example.com/x", "seconds_between_notifications": 300}]
 * }]
 * ```
 *
 * Pure: no I/O. viam-server's RobotConfig has no `triggers` field, so the conversion in
 * `robot-config.ts` never serves it; this module checks it when a config is saved (the part's own,
 * a fragment's own, and the merged one) and reads it for the alert service. Errors are
 * INVALID_ARGUMENT naming the key path (`triggers[0].event.type: ...`), as for the rest of a config.
 */
import { child, fail, get, isObject, items, quote, type JsonObject } from './json.js';

export const TRIGGER_EVENT_TYPES = ['part_online', 'part_offline', 'conditional_logs_ingested'] as const;
export type TriggerEventType = (typeof TRIGGER_EVENT_TYPES)[number];

/** The levels a `conditional_logs_ingested` trigger may list (viam's). */
export const TRIGGER_LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type TriggerLogLevel = (typeof TRIGGER_LOG_LEVELS)[number];

export const NOTIFICATION_TYPES = ['webhook', 'email'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** What `seconds_between_notifications` means when left out. */
export const DEFAULT_SECONDS_BETWEEN_NOTIFICATIONS = 60;
/** Most triggers a part (its merged config) holds, and notifications one trigger holds. */
export const MAX_TRIGGERS = 50;
export const MAX_NOTIFICATIONS = 10;
const MAX_TRIGGER_NAME = 100;
const MAX_TARGET_LENGTH = 2048;
/** A day: a longer quiet time is almost certainly a mistake in units. */
const MAX_SECONDS_BETWEEN = 7 * 86_400;

export interface TriggerNotification {
  type: NotificationType;
  /** A webhook's http(s) URL or an email address. */
  value: string;
  secondsBetweenNotifications: number;
}

export interface Trigger {
  name: string;
  event: TriggerEventType;
  /** For `conditional_logs_ingested`: the stored levels that fire it. */
  logLevels: TriggerLogLevel[];
  notifications: TriggerNotification[];
}

/** A plausible address: something, `@`, a domain with a dot; no spaces, quotes or brackets. */
const EMAIL = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+\.[^\s@<>()[\],;:"\\]+$/;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(path, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function notification(item: JsonObject, path: string): TriggerNotification {
  const type = oneOf(get(item, 'type'), NOTIFICATION_TYPES, child(path, 'type'));
  const valuePath = child(path, 'value');
  const value = get(item, 'value');
  if (typeof value !== 'string' || value.trim() === '') fail(valuePath, 'must be a non-empty string');
  if (value.length > MAX_TARGET_LENGTH) fail(valuePath, `must be ${MAX_TARGET_LENGTH} characters or fewer`);
  if (type === 'webhook') {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      fail(valuePath, `must be an http:// or https:// URL, got ${quote(value)}`);
    }
    if (url.username || url.password) fail(valuePath, 'must not carry a user or password');
  } else if (!EMAIL.test(value) || value.length > 320) {
    fail(valuePath, `must be an email address, got ${quote(value)}`);
  }
  const secondsPath = child(path, 'seconds_between_notifications');
  const seconds = get(item, 'seconds_between_notifications') ?? DEFAULT_SECONDS_BETWEEN_NOTIFICATIONS;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
    fail(secondsPath, 'must be a whole number of seconds, zero or more');
  }
  if (seconds > MAX_SECONDS_BETWEEN) fail(secondsPath, `must be at most ${MAX_SECONDS_BETWEEN} (7 days)`);
  return { type, value: type === 'email' ? value.trim() : value, secondsBetweenNotifications: seconds };
}

function logLevels(event: JsonObject, path: string): TriggerLogLevel[] {
  const attributesPath = child(path, 'attributes');
  const attributes = get(event, 'attributes');
  if (!isObject(attributes)) fail(attributesPath, 'must be an object with "log_levels"');
  const levelsPath = child(attributesPath, 'log_levels');
  const levels = get(attributes, 'log_levels');
  if (!Array.isArray(levels) || levels.length === 0) {
    fail(levelsPath, `must be a non-empty list of ${TRIGGER_LOG_LEVELS.join(', ')}`);
  }
  const out: TriggerLogLevel[] = [];
  levels.forEach((level: unknown, i) => {
    const checked = oneOf(level, TRIGGER_LOG_LEVELS, `${levelsPath}[${i}]`);
    if (!out.includes(checked)) out.push(checked);
  });
  return out;
}

function trigger(item: JsonObject, path: string): Trigger {
  const namePath = child(path, 'name');
  const name = get(item, 'name');
  if (typeof name !== 'string' || name.trim() === '') fail(namePath, 'must be a non-empty string');
  if (name.length > MAX_TRIGGER_NAME) fail(namePath, `must be ${MAX_TRIGGER_NAME} characters or fewer`);
  const eventPath = child(path, 'event');
  const event = get(item, 'event');
  if (!isObject(event)) fail(eventPath, 'must be an object with a "type"');
  const type = oneOf(get(event, 'type'), TRIGGER_EVENT_TYPES, child(eventPath, 'type'));
  const levels = type === 'conditional_logs_ingested' ? logLevels(event, eventPath) : [];
  const listed = items(item, 'notifications', path);
  const notificationsPath = child(path, 'notifications');
  if (listed === undefined || listed.length === 0) fail(notificationsPath, 'must be a non-empty list');
  if (listed.length > MAX_NOTIFICATIONS) fail(notificationsPath, `holds at most ${MAX_NOTIFICATIONS}`);
  const seen = new Map<string, string>();
  const notifications = listed.map(([n, nPath]) => {
    const checked = notification(n, nPath);
    const key = `${checked.type}\n${checked.value}`;
    const first = seen.get(key);
    if (first !== undefined) fail(nPath, `the same ${checked.type} as ${first}`);
    seen.set(key, nPath);
    return checked;
  });
  return { name, event: type, logLevels: levels, notifications };
}

/**
 * The config's `triggers` (absent or null: none), checked. Names are unique per config; each
 * trigger needs at least one notification.
 */
export function parseTriggers(config: JsonObject, path = ''): Trigger[] {
  const listed = items(config, 'triggers', path);
  if (listed === undefined) return [];
  if (listed.length > MAX_TRIGGERS) fail(child(path, 'triggers'), `holds at most ${MAX_TRIGGERS} triggers`);
  const names = new Map<string, string>();
  return listed.map(([item, itemPath]) => {
    const parsed = trigger(item, itemPath);
    const first = names.get(parsed.name);
    if (first !== undefined)
      fail(child(itemPath, 'name'), `duplicate name ${quote(parsed.name)} (also used by ${first})`);
    names.set(parsed.name, itemPath);
    return parsed;
  });
}

/**
 * The triggers of a stored config for the alert service: those that pass the checks. A config
 * saved before the checks existed may hold others; they are left out rather than failing.
 */
export function triggersOf(config: JsonObject): Trigger[] {
  try {
    return parseTriggers(config);
  } catch {
    const listed = get(config, 'triggers');
    if (!Array.isArray(listed)) return [];
    const out: Trigger[] = [];
    const names = new Set<string>();
    listed.forEach((item: unknown, i) => {
      if (!isObject(item)) return;
      try {
        const parsed = trigger(item, `triggers[${i}]`);
        if (names.has(parsed.name)) return;
        names.add(parsed.name);
        out.push(parsed);
      } catch {
        // left out
      }
    });
    return out.slice(0, MAX_TRIGGERS);
  }
}

/**
 * Whether a stored log level fires a trigger listing `levels`: `error` also stands for the
 * levels above it that viam-server emits (dpanic, panic, fatal).
 */
export function levelFires(levels: readonly TriggerLogLevel[], stored: string): boolean {
  if ((levels as readonly string[]).includes(stored)) return true;
  return levels.includes('error') && (stored === 'dpanic' || stored === 'panic' || stored === 'fatal');
}
