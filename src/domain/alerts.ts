/**
 * Machine alerts: what a delivery says (the webhook body and the mail text) and when a failed one
 * is tried again. Pure: the alert service builds and stores these, the dispatcher sends them.
 */
import type { TriggerEventType } from './config/triggers.js';

/** A named object in a payload. */
export interface Named {
  id: string;
  name: string;
}

/** Where the part that fired sits. */
export interface AlertSubject {
  organization: Named;
  location: Named;
  machine: Named;
  part: Named;
}

/** A matching log entry, as a payload carries it. */
export interface AlertLogEntry {
  time: string;
  level: string;
  logger_name: string;
  message: string;
}

/**
 * The webhook body (JSON, snake_case). `logs` and `logs_matched` only for
 * `conditional_logs_ingested`; `last_access` for `part_online` and `part_offline`.
 */
export interface AlertPayload {
  /** Unique per notification: the `X-Flotilla-Delivery` header repeats it. */
  delivery_id: string;
  /** Shared by the notifications of one event (a trigger with a webhook and an email). */
  event_id: string;
  event_type: TriggerEventType;
  trigger_name: string;
  /** When the event happened (detected, for online and offline). */
  time: string;
  organization: Named;
  location: Named;
  machine: Named;
  part: Named;
  /** The part's last call before the event (offline), or the call that ended it (online). */
  last_access?: string;
  /** The first matching entries of the Log call, at most MAX_PAYLOAD_LOGS, messages cut short. */
  logs?: AlertLogEntry[];
  /** How many entries of that Log call matched. */
  logs_matched?: number;
}

/** Most log entries one payload carries, and longest message text. */
export const MAX_PAYLOAD_LOGS = 10;
export const MAX_PAYLOAD_MESSAGE = 1000;

/** A log entry for a payload, its message cut to MAX_PAYLOAD_MESSAGE characters. */
export function payloadLogEntry(entry: {
  timeUs: bigint;
  level: string;
  loggerName: string;
  message: string;
}): AlertLogEntry {
  let time: string;
  try {
    time = new Date(Number(entry.timeUs / 1000n)).toISOString();
  } catch {
    time = '';
  }
  const message =
    entry.message.length > MAX_PAYLOAD_MESSAGE
      ? `${entry.message.slice(0, MAX_PAYLOAD_MESSAGE)}…`
      : entry.message;
  return { time, level: entry.level, logger_name: entry.loggerName.slice(0, 200), message };
}

const DESCRIPTIONS: Record<TriggerEventType, string> = {
  part_online: 'is online again',
  part_offline: 'went offline',
  conditional_logs_ingested: 'logged matching entries',
};

/** The subject and plain text of an alert mail. */
export function alertMailOf(payload: AlertPayload): { subject: string; text: string } {
  const where = `${payload.machine.name} / ${payload.part.name}`;
  const subject = `[Flotilla] ${payload.trigger_name}: ${where} ${DESCRIPTIONS[payload.event_type]}`;
  const lines = [
    `Trigger "${payload.trigger_name}" fired: the part ${where} ${DESCRIPTIONS[payload.event_type]}.`,
    '',
    `Event:        ${payload.event_type} at ${payload.time}`,
    `Organization: ${payload.organization.name} (${payload.organization.id})`,
    `Location:     ${payload.location.name} (${payload.location.id})`,
    `Machine:      ${payload.machine.name} (${payload.machine.id})`,
    `Part:         ${payload.part.name} (${payload.part.id})`,
  ];
  if (payload.last_access) lines.push(`Last access:  ${payload.last_access}`);
  if (payload.logs) {
    lines.push('', `${payload.logs_matched ?? payload.logs.length} matching log entries; the first:`);
    for (const log of payload.logs)
      lines.push(`${log.time} ${log.level.toUpperCase()} ${log.logger_name}: ${log.message}`);
  }
  lines.push('', `Delivery ${payload.delivery_id}`);
  return { subject: subject.replace(/[\r\n]+/g, ' ').slice(0, 200), text: `${lines.join('\n')}\n` };
}

/** Longest wait between two tries of a delivery. */
export const MAX_RETRY_DELAY_MS = 10 * 60_000;

/**
 * How long to wait after the `attempts`-th failed try: `firstDelayMs`, doubling each time, at
 * most MAX_RETRY_DELAY_MS.
 */
export function retryDelayMs(attempts: number, firstDelayMs: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(firstDelayMs * 2 ** exponent, MAX_RETRY_DELAY_MS);
}
