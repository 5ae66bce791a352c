import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers the calling thread's scheduling priority to `nice` (0 to 19), so that it yields the CPU
 * to the server's event loop when both want it. On Linux a thread has a nice value of its own,
 * set through its thread id (read from /proc/thread-self); elsewhere, or when that is not
 * allowed, the thread keeps the process's priority.
 */
export function lowerThisThreadsPriority(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // No /proc, or not allowed: run at normal priority.
  }
}
