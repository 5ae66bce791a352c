import type { appApi } from '@viamrobotics/sdk';
import { ago, dateOf } from './format.js';

/** OnlineState's wire values (viam.app.v1.OnlineState). */
const ONLINE = 1;
const AWAITING_SETUP = 3;

export type StatusKind = 'online' | 'offline' | 'awaiting';

export interface Status {
  kind: StatusKind;
  /** `Online`, `Offline · last seen 3 min ago`, `Awaiting setup`. */
  text: string;
}

interface Seen {
  onlineState: number;
  lastAccess?: { seconds: bigint; nanos: number } | undefined;
}

/**
 * The status of a part, or of a machine from its parts: online if any part is, awaiting setup if
 * none has ever called, otherwise offline since the latest call of any part.
 */
export function statusOf(parts: readonly Seen[], now = Date.now()): Status {
  if (parts.some((p) => p.onlineState === ONLINE)) return { kind: 'online', text: 'Online' };
  const seen = parts
    .map((p) => dateOf(p.lastAccess))
    .filter((d): d is Date => d !== undefined)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  if (parts.every((p) => p.onlineState === AWAITING_SETUP))
    return { kind: 'awaiting', text: 'Awaiting setup' };
  return { kind: 'offline', text: `Offline · last seen ${ago(seen, now)}` };
}

/** The viam-server version a part reported, if any. */
export function versionOf(part: appApi.PartSummary): string {
  return part.viamServerVersion?.version.value ?? '';
}
