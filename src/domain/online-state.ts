/** How a part is doing, judged by its last call to RobotService. */
export type OnlineState = 'online' | 'offline' | 'awaiting_setup';

/** A part that called within this many seconds is online. */
export const ONLINE_WINDOW_SECONDS = 30;

export interface Liveness {
  state: OnlineState;
  /** Seconds since the last call; 0 when online or never seen. */
  secondsSinceOnline: number;
}

/** Online if the part called in the last 30 s, awaiting setup if it never has, offline otherwise. */
export function livenessOf(lastAccess: Date | undefined, now: Date = new Date()): Liveness {
  if (!lastAccess) return { state: 'awaiting_setup', secondsSinceOnline: 0 };
  const seconds = Math.max(0, Math.floor((now.getTime() - lastAccess.getTime()) / 1000));
  return seconds < ONLINE_WINDOW_SECONDS
    ? { state: 'online', secondsSinceOnline: 0 }
    : { state: 'offline', secondsSinceOnline: seconds };
}
