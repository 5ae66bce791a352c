import { isIPv6 } from 'node:net';

/**
 * The backoff rule for password logins, kept per account (the email) and per source (the client's
 * address). Each key may fail `freeFailures` times; the failure that reaches that number, and each
 * one after it, blocks the key for `baseDelayMs`, doubled per further failure, at most
 * `maxDelayMs`. While a key is blocked its attempts are refused before any password is checked, and
 * refusals do not count as failures. A key is forgotten `windowMs` after its last failure or the
 * end of its block, whichever is later; a successful login forgets the account's failures (not the
 * source's, so one valid account does not unlock guessing at others).
 *
 * Attempts in flight count too: once a key's failures and running attempts reach its allowance,
 * it may have one attempt running at a time, so parallel guesses cannot overtake the counter.
 *
 * The state is in this process's memory, bounded by `maxEntries` keys of each kind. Several
 * replicas each keep their own.
 */
export interface LoginThrottleSettings {
  /** Failures per account before delays start. */
  accountFreeFailures: number;
  /** Failures per source address before delays start (higher: users behind one NAT share it). */
  sourceFreeFailures: number;
  /** The first delay; it doubles with each further failure. */
  baseDelayMs: number;
  /** The longest delay. */
  maxDelayMs: number;
  /** How long a key is remembered after its last failure or the end of its block. */
  windowMs: number;
  /** Most keys of each kind (accounts, sources) kept in memory. */
  maxEntries: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = {
  accountFreeFailures: 5,
  sourceFreeFailures: 20,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60 * 1000,
  windowMs: 15 * 60 * 1000,
  maxEntries: 10_000,
};

/** An attempt that may go ahead; exactly one of its methods is called once it is decided. */
export interface LoginAttempt {
  readonly allowed: true;
  succeeded(): void;
  failed(): void;
}

/** An attempt refused without checking anything. */
export interface RefusedLogin {
  readonly allowed: false;
  /** How long until the refusing key may try again (at least 1 ms). */
  readonly retryAfterMs: number;
}

/** Keys longer than this share their prefix's counter (no real email is that long). */
const MAX_KEY_CHARS = 256;
/** When full, the entry evicted is the one with the fewest failures among this many oldest. */
const EVICTION_SCAN = 64;
/** A full map is swept for expired entries at most this often (a sweep visits every entry). */
const SWEEP_INTERVAL_MS = 1000;

interface Entry {
  failures: number;
  inFlight: number;
  blockedUntil: number;
  expiresAt: number;
}

/** One kind of key (accounts or sources) and its allowance. */
class Counters {
  private readonly entries = new Map<string, Entry>();
  private nextSweepAt = -Infinity;

  constructor(
    private readonly freeFailures: number,
    private readonly settings: LoginThrottleSettings,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Milliseconds until `key` may try again; 0 if it may now. */
  waitMs(key: string, now: number): number {
    const entry = this.live(key, now);
    if (!entry) return 0;
    if (now < entry.blockedUntil) return entry.blockedUntil - now;
    if (entry.inFlight > 0 && entry.failures + entry.inFlight >= this.freeFailures) {
      return this.settings.baseDelayMs;
    }
    return 0;
  }

  begin(key: string, now: number): void {
    this.touch(key, now).inFlight += 1;
  }

  fail(key: string, now: number): void {
    const entry = this.touch(key, now);
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.failures += 1;
    const over = entry.failures - this.freeFailures;
    if (over >= 0) {
      // 2 ** over is Infinity far beyond the cap, and Math.min handles that.
      entry.blockedUntil = now + Math.min(this.settings.maxDelayMs, this.settings.baseDelayMs * 2 ** over);
    }
    entry.expiresAt = Math.max(now, entry.blockedUntil) + this.settings.windowMs;
  }

  succeed(key: string, now: number, reset: boolean): void {
    const entry = this.live(key, now);
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    if (reset) {
      entry.failures = 0;
      entry.blockedUntil = 0;
    }
    if (entry.failures === 0 && entry.inFlight === 0) this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && this.expired(entry, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private expired(entry: Entry, now: number): boolean {
    return entry.inFlight === 0 && now >= entry.expiresAt;
  }

  /** The key's entry, created if needed, moved to the newest end of the map. */
  private touch(key: string, now: number): Entry {
    let entry = this.live(key, now);
    if (entry) {
      this.entries.delete(key);
    } else {
      this.makeRoom(now);
      entry = { failures: 0, inFlight: 0, blockedUntil: 0, expiresAt: now + this.settings.windowMs };
    }
    this.entries.set(key, entry);
    return entry;
  }

  /**
   * Frees one slot when the map is full: first by dropping expired entries, else by evicting the
   * entry with the fewest failures among the oldest few, so that a flood of new keys (one failure
   * each) pushes out other flood keys rather than an account already under attack.
   */
  private makeRoom(now: number): void {
    if (this.entries.size < this.settings.maxEntries) return;
    if (now >= this.nextSweepAt) {
      this.nextSweepAt = now + SWEEP_INTERVAL_MS;
      for (const [key, entry] of this.entries) {
        if (this.expired(entry, now)) this.entries.delete(key);
      }
      if (this.entries.size < this.settings.maxEntries) return;
    }
    let victim: string | undefined;
    let fewest = Infinity;
    let scanned = 0;
    for (const [key, entry] of this.entries) {
      if (entry.failures < fewest) {
        victim = key;
        fewest = entry.failures;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (victim !== undefined) this.entries.delete(victim);
  }
}

/**
 * The counter key of a client address: IPv4 as is (also when mapped into IPv6), IPv6 by its /64
 * prefix, since one host commonly holds a whole /64.
 */
export function sourceKeyOf(address: string): string {
  const a = address.trim().toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped) return mapped[1]!;
  if (!isIPv6(a)) return a;
  const groupsOf = (part: string) => (part ? part.split(':') : []);
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  let groups: string[];
  if (a.includes('::')) {
    const [head = '', tail = ''] = a.split('::');
    const before = groupsOf(head);
    const after = groupsOf(tail);
    groups = [...before, ...Array<string>(8 - width(before) - width(after)).fill('0'), ...after];
  } else {
    groups = groupsOf(a);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** Decides whether a password login may be checked, and learns from its outcome. */
export class LoginThrottle {
  private readonly settings: LoginThrottleSettings;
  private readonly accounts: Counters;
  private readonly sources: Counters;

  constructor(
    settings: Partial<LoginThrottleSettings> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.settings = { ...DEFAULT_LOGIN_THROTTLE, ...settings };
    this.accounts = new Counters(this.settings.accountFreeFailures, this.settings);
    this.sources = new Counters(this.settings.sourceFreeFailures, this.settings);
  }

  /**
   * Starts a login attempt for `account` (an email, compared without regard to case) from
   * `source` (the client's address; undefined when unknown, then only the account counts).
   */
  attempt(account: string, source: string | undefined): LoginAttempt | RefusedLogin {
    const accountKey = account.trim().toLowerCase().slice(0, MAX_KEY_CHARS);
    const sourceKey = source ? sourceKeyOf(source).slice(0, MAX_KEY_CHARS) : undefined;
    const now = this.now();
    const wait = Math.max(
      this.accounts.waitMs(accountKey, now),
      sourceKey === undefined ? 0 : this.sources.waitMs(sourceKey, now),
    );
    if (wait > 0) return { allowed: false, retryAfterMs: wait };
    this.accounts.begin(accountKey, now);
    if (sourceKey !== undefined) this.sources.begin(sourceKey, now);
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      const at = this.now();
      if (ok) {
        this.accounts.succeed(accountKey, at, true);
        if (sourceKey !== undefined) this.sources.succeed(sourceKey, at, false);
      } else {
        this.accounts.fail(accountKey, at);
        if (sourceKey !== undefined) this.sources.fail(sourceKey, at);
      }
    };
    return { allowed: true, succeeded: () => finish(true), failed: () => finish(false) };
  }

  /** How many keys of each kind are kept (for tests and diagnostics). */
  get size(): { accounts: number; sources: number } {
    return { accounts: this.accounts.size, sources: this.sources.size };
  }
}
