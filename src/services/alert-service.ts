import type { FleetPrincipal } from '../authz/principal.js';
import { MAX_PAYLOAD_LOGS, payloadLogEntry, type AlertPayload, type AlertSubject } from '../domain/alerts.js';
import { levelFires, triggersOf, type Trigger, type TriggerNotification } from '../domain/config/triggers.js';
import { newId } from '../domain/ids.js';
import type { Logger } from '../domain/logger.js';
import { requireId } from '../domain/validation.js';
import type { AlertMailer } from '../mail/alert-mailer.js';
import {
  type AlertRepository,
  type AlertAttemptRecord,
  type AlertDeliveryRecord,
  type AlertDeliveryStatus,
  type ThrottleKey,
} from '../store/alert-repository.js';
import type { ChangeKey } from '../store/change-tracker.js';
import type { Db } from '../store/db.js';
import { AlertDispatcher, webhookSecretOf } from './alert-dispatcher.js';
import type { ServiceDeps } from './context.js';
import type { FragmentResolver } from './fragment-resolver.js';
import { FreshCache } from './fresh-cache.js';

/** How alerts are detected and retried (FLOTILLA_OFFLINE_AFTER, FLOTILLA_ALERT_RETRY_*). */
export interface AlertSettings {
  /** A part not heard from for this long is offline (part_offline), in ms. */
  offlineAfterMs: number;
  /** A delivery that keeps failing is retried for this long after it was made, in ms. */
  retryWindowMs: number;
  /** The wait after a delivery's first failed try, doubling each time (at most 10 minutes), in ms. */
  retryDelayMs: number;
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  offlineAfterMs: 60_000,
  retryWindowMs: 3_600_000,
  retryDelayMs: 10_000,
};

/** What the alert service is built with, beside ServiceDeps. */
export interface AlertOptions {
  settings?: AlertSettings | undefined;
  /** Sends email notifications; without it they fail, saying SMTP is not configured. */
  mailer?: AlertMailer | undefined;
  logger?: Logger | undefined;
  /** Parts whose triggers are kept in memory (at least 1,000). */
  cacheEntries?: number | undefined;
}

/** Finished deliveries are kept this long, then removed by the checker. */
export const ALERT_HISTORY_MS = 30 * 86_400_000;
/** Most deliveries the alerts route lists for a part. */
export const MAX_LISTED_DELIVERIES = 100;
/** Log batches waiting for their triggers to be evaluated; beyond it, batches are not evaluated. */
const MAX_QUEUED_LOG_JOBS = 1000;
/** Local throttle entries remembered before they are all dropped (the database still decides). */
const MAX_LOCAL_THROTTLES = 100_000;

/** A part's triggers (its merged config's) and where the part sits, as payloads name it. */
interface PartTriggers {
  subject: AlertSubject;
  triggers: Trigger[];
  logTriggers: Trigger[];
  stateTriggers: Trigger[];
}

/** A log entry as the Log call stored it: what the triggers and payloads read. */
export interface IngestedLogEntry {
  level: string;
  timeUs: bigint;
  loggerName: string;
  message: string;
}

/** One try at sending a delivery, for owners. */
export interface AlertAttemptView {
  attempt: number;
  attemptedAt: Date;
  outcome: 'delivered' | 'failed';
  httpStatus: number | undefined;
  error: string | undefined;
  durationMs: number;
}

/** A delivery with its attempts, for owners. */
export interface AlertDeliveryView {
  id: string;
  eventType: string;
  triggerName: string;
  notificationType: string;
  target: string;
  status: AlertDeliveryStatus;
  attempts: AlertAttemptView[];
  createdAt: Date;
  nextAttemptAt: Date | undefined;
  finishedAt: Date | undefined;
  lastError: string | undefined;
  payload: unknown;
}

const channelOf = (n: TriggerNotification) => `${n.type}:${n.value}`;
const throttleText = (key: ThrottleKey) => `${key.partId}\n${key.triggerName}\n${key.channel}`;

/**
 * Machine alerts: a part's `triggers` (validated on save, see `domain/config/triggers.ts`) turned
 * into deliveries. Events come from two places: stored log entries (`logsStored`, called by the
 * Log path; it only queues work) and the online checker (`checkParts`, run by one replica at a time).
 * Each notification fires at most once per its `seconds_between_notifications`, decided in the
 * database (a conditional UPDATE), so replicas agree. Deliveries go to an outbox table that
 * `AlertDispatcher` sends from. Owners read deliveries and the organization's webhook secret.
 */
export class AlertService {
  readonly dispatcher: AlertDispatcher;
  private readonly repo: AlertRepository;
  private readonly settings: AlertSettings;
  private readonly logger: Logger | undefined;
  private readonly cache: FreshCache<string, PartTriggers>;
  /** When each notification may fire next, as this replica last learned it (an optimization only). */
  private readonly nextAllowed = new Map<string, number>();
  /** Notifications whose throttle a log job is taking right now. */
  private readonly taking = new Set<string>();
  private readonly jobs = new Set<Promise<void>>();
  private dropped = 0;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly resolver: FragmentResolver,
    options: AlertOptions = {},
  ) {
    this.repo = deps.repos.alerts;
    this.settings = options.settings ?? DEFAULT_ALERT_SETTINGS;
    this.logger = options.logger;
    this.cache = new FreshCache(deps.changes, Math.max(options.cacheEntries ?? 50_000, 1000));
    this.dispatcher = new AlertDispatcher(
      deps.db,
      this.repo,
      deps.secrets,
      { retryDelayMs: this.settings.retryDelayMs },
      options.mailer,
      options.logger,
    );
  }

  get offlineAfterMs(): number {
    return this.settings.offlineAfterMs;
  }

  /** Calls `wake` whenever this replica puts a delivery in the outbox; returns how to stop. */
  onEnqueued(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }

  // -------------------------------------------------------------------------------------------
  // Log events

  /**
   * A Log call stored `entries` for the part. Never throws and never waits: a part whose triggers
   * are known (cached) and include no log trigger costs one map lookup; otherwise the batch is
   * queued and evaluated after the call has been answered.
   */
  logsStored(partId: string, entries: readonly IngestedLogEntry[]): void {
    try {
      const known = this.cache.get(partId);
      if (known && known.logTriggers.length === 0) return;
      if (entries.length === 0) return;
      if (this.jobs.size >= MAX_QUEUED_LOG_JOBS) {
        if (this.dropped++ % 1000 === 0) {
          this.logger?.warn('alert evaluation is behind; log batches are not evaluated', {
            dropped: this.dropped,
          });
        }
        return;
      }
      const job = this.evaluateLogs(partId, entries, known)
        .catch((error: unknown) =>
          this.logger?.warn('evaluating log triggers failed', { part: partId, error: String(error) }),
        )
        .finally(() => this.jobs.delete(job));
      this.jobs.add(job);
    } catch (error) {
      this.logger?.warn('evaluating log triggers failed', { part: partId, error: String(error) });
    }
  }

  /** Resolves once the log batches queued so far are evaluated (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  private async evaluateLogs(
    partId: string,
    entries: readonly IngestedLogEntry[],
    known: PartTriggers | undefined,
  ): Promise<void> {
    const part = known ?? (await this.triggersFor(partId));
    if (!part) return;
    for (const trigger of part.logTriggers) {
      const matching = entries.filter((e) => levelFires(trigger.logLevels, e.level));
      if (matching.length === 0) continue;
      const now = Date.now();
      const details: Partial<AlertPayload> = {
        time: new Date(now).toISOString(),
        logs: matching.slice(0, MAX_PAYLOAD_LOGS).map(payloadLogEntry),
        logs_matched: matching.length,
      };
      const eventId = newId();
      for (const notification of trigger.notifications) {
        await this.fireFromLogs(part, trigger, notification, eventId, details, now);
      }
    }
  }

  /** One notification of a log event, in its own transaction, unless it is known to be throttled. */
  private async fireFromLogs(
    part: PartTriggers,
    trigger: Trigger,
    notification: TriggerNotification,
    eventId: string,
    details: Partial<AlertPayload>,
    now: number,
  ): Promise<void> {
    const key: ThrottleKey = {
      partId: part.subject.part.id,
      triggerName: trigger.name,
      channel: channelOf(notification),
    };
    const text = throttleText(key);
    const quiet = notification.secondsBetweenNotifications * 1000;
    if (quiet > 0 && ((this.nextAllowed.get(text) ?? 0) > now || this.taking.has(text))) return;
    this.taking.add(text);
    try {
      const fired = await this.deps.db
        .transaction()
        .execute((trx) => this.enqueue(trx, part, trigger, notification, eventId, details, now));
      if (quiet > 0) {
        if (this.nextAllowed.size >= MAX_LOCAL_THROTTLES) this.nextAllowed.clear();
        this.nextAllowed.set(text, (fired === true ? now : Date.parse(fired)) + quiet);
      }
      if (fired === true) this.wake();
    } finally {
      this.taking.delete(text);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Online and offline

  /**
   * One round of the online checker, over every part that has called and whose merged config
   * has part_online or part_offline triggers: a part last heard from longer than
   * FLOTILLA_OFFLINE_AFTER ago is offline. A change from the recorded state is a conditional
   * UPDATE, in the same transaction as the deliveries it makes, so it fires once however many
   * replicas check. The first state recorded for a part fires nothing. Also removes deliveries
   * that finished more than ALERT_HISTORY_MS ago.
   */
  async checkParts(): Promise<void> {
    const { db } = this.deps;
    const now = Date.now();
    const at = new Date(now).toISOString();
    const cutoff = now - this.settings.offlineAfterMs;
    const candidates = await this.repo.listWatchCandidates(db);
    const states = await this.repo.listStates(db);
    const keep = new Set<string>();
    let fired = false;
    for (const { partId, lastAccess } of candidates) {
      let part: PartTriggers | undefined;
      try {
        part = await this.triggersFor(partId);
      } catch (error) {
        keep.add(partId);
        this.logger?.warn("reading a part's triggers failed", { part: partId, error: String(error) });
        continue;
      }
      if (!part || part.stateTriggers.length === 0) continue;
      keep.add(partId);
      const online = Date.parse(lastAccess) > cutoff;
      const state = states.get(partId);
      if (state === undefined) {
        await this.repo.insertState(db, partId, online ? 'online' : 'offline', at);
        continue;
      }
      if ((state === 'online') === online) continue;
      const event = online ? 'part_online' : 'part_offline';
      const current = part;
      const changed = await db.transaction().execute(async (trx) => {
        if (!(await this.repo.transitionState(trx, partId, state, online ? 'online' : 'offline', at))) {
          return false;
        }
        for (const trigger of current.stateTriggers.filter((t) => t.event === event)) {
          const eventId = newId();
          for (const notification of trigger.notifications) {
            const result = await this.enqueue(
              trx,
              current,
              trigger,
              notification,
              eventId,
              { time: at, last_access: lastAccess },
              now,
            );
            fired ||= result === true;
          }
        }
        return true;
      });
      if (changed)
        this.logger?.info(`part ${event === 'part_online' ? 'online' : 'offline'}`, {
          part: partId,
          last_access: lastAccess,
        });
    }
    const stale = [...states.keys()].filter((id) => !keep.has(id));
    if (stale.length > 0) await this.repo.deleteStates(db, stale);
    await this.repo.pruneFinished(db, new Date(now - ALERT_HISTORY_MS).toISOString(), 1000);
    if (fired) this.wake();
  }

  // -------------------------------------------------------------------------------------------
  // Shared

  /**
   * Puts one notification of an event in the outbox if its throttle allows (inside `trx`): true
   * if it did, else when the notification last fired.
   */
  private async enqueue(
    trx: Db,
    part: PartTriggers,
    trigger: Trigger,
    notification: TriggerNotification,
    eventId: string,
    details: Partial<AlertPayload>,
    now: number,
  ): Promise<true | string> {
    const at = new Date(now).toISOString();
    const quiet = notification.secondsBetweenNotifications * 1000;
    if (quiet > 0) {
      const key: ThrottleKey = {
        partId: part.subject.part.id,
        triggerName: trigger.name,
        channel: channelOf(notification),
      };
      const turn = await this.repo.takeThrottle(trx, key, at, new Date(now - quiet).toISOString());
      if (!turn.taken) return turn.lastFiredAt;
    }
    const id = newId();
    const payload: AlertPayload = {
      delivery_id: id,
      event_id: eventId,
      event_type: trigger.event,
      trigger_name: trigger.name,
      time: at,
      ...part.subject,
      ...details,
    };
    await this.repo.insertDelivery(trx, {
      id,
      organizationId: part.subject.organization.id,
      partId: part.subject.part.id,
      eventType: trigger.event,
      triggerName: trigger.name,
      notificationType: notification.type,
      target: notification.value,
      body: JSON.stringify(payload),
      status: 'pending',
      attempts: 0,
      createdAt: at,
      nextAttemptAt: at,
      giveUpAt: new Date(now + this.settings.retryWindowMs).toISOString(),
      finishedAt: undefined,
      lastError: undefined,
    });
    return true;
  }

  private wake(): void {
    for (const wake of this.wakers) wake();
  }

  /**
   * The part's triggers (from its config merged with its fragments) and where it sits, from
   * memory while none of what they were read from changed.
   */
  private async triggersFor(partId: string): Promise<PartTriggers | undefined> {
    const cached = this.cache.get(partId);
    if (cached) return cached;
    const stamp = this.cache.stamp();
    const { db, repos } = this.deps;
    const part = await repos.parts.findById(db, partId);
    if (!part) return undefined;
    const machine = await repos.robots.findById(db, part.machineId);
    const location = await repos.locations.findById(db, part.locationId);
    const organization = location && (await repos.organizations.findById(db, location.organizationId));
    if (!machine || !location || !organization) return undefined;
    const merged = await this.resolver.merged(db, organization.id, part.config);
    const triggers = triggersOf(merged.config);
    const value: PartTriggers = {
      subject: {
        organization: { id: organization.id, name: organization.name },
        location: { id: location.id, name: location.name },
        machine: { id: machine.id, name: machine.name },
        part: { id: part.id, name: part.name },
      },
      triggers,
      logTriggers: triggers.filter((t) => t.event === 'conditional_logs_ingested'),
      stateTriggers: triggers.filter((t) => t.event !== 'conditional_logs_ingested'),
    };
    const dependsOn: ChangeKey[] = [
      `part:${part.id}`,
      `machine:${machine.id}`,
      `location:${location.id}`,
      `organization:${organization.id}`,
      ...merged.fragmentIds.map((id): ChangeKey => `fragment:${id}`),
    ];
    this.cache.set(partId, value, stamp, dependsOn);
    return value;
  }

  // -------------------------------------------------------------------------------------------
  // What owners read

  /**
   * The part's deliveries, newest first (at most MAX_LISTED_DELIVERIES), each with its attempts.
   * Needs read_robot_config on the part (owners): deliveries name the config's targets.
   */
  async deliveriesForPart(
    principal: FleetPrincipal,
    partId: string,
    limit?: number,
  ): Promise<AlertDeliveryView[]> {
    const { db, authz } = this.deps;
    const id = requireId(partId, 'part_id');
    await authz.require(db, principal, { type: 'part', id }, 'read_robot_config');
    const bounded = Math.min(Math.max(Math.trunc(limit ?? 50) || 50, 1), MAX_LISTED_DELIVERIES);
    const deliveries = await this.repo.listForPart(db, id, bounded);
    const attempts = await this.repo.listAttempts(
      db,
      deliveries.map((d) => d.id),
    );
    const byDelivery = new Map<string, AlertAttemptRecord[]>();
    for (const attempt of attempts) {
      const list = byDelivery.get(attempt.deliveryId) ?? [];
      list.push(attempt);
      byDelivery.set(attempt.deliveryId, list);
    }
    return deliveries.map((d) => deliveryView(d, byDelivery.get(d.id) ?? []));
  }

  /**
   * The organization's webhook signing secret, made at first use. Needs write_organization
   * (organization owners): whoever holds it can forge alerts.
   */
  async webhookSecret(principal: FleetPrincipal, organizationId: string): Promise<string> {
    const { db, authz, secrets } = this.deps;
    const id = requireId(organizationId, 'organization_id');
    await authz.require(db, principal, { type: 'organization', id }, 'write_organization');
    return webhookSecretOf(db, this.repo, secrets, id);
  }
}

function deliveryView(d: AlertDeliveryRecord, attempts: readonly AlertAttemptRecord[]): AlertDeliveryView {
  let payload: unknown;
  try {
    payload = JSON.parse(d.body);
  } catch {
    payload = undefined;
  }
  return {
    id: d.id,
    eventType: d.eventType,
    triggerName: d.triggerName,
    notificationType: d.notificationType,
    target: d.target,
    status: d.status,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      attemptedAt: new Date(a.attemptedAt),
      outcome: a.outcome,
      httpStatus: a.httpStatus,
      error: a.error,
      durationMs: a.durationMs,
    })),
    createdAt: new Date(d.createdAt),
    nextAttemptAt: d.status === 'pending' || d.status === 'sending' ? new Date(d.nextAttemptAt) : undefined,
    finishedAt: d.finishedAt === undefined ? undefined : new Date(d.finishedAt),
    lastError: d.lastError,
    payload,
  };
}
