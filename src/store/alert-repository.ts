import { sql } from 'kysely';
import type { Db } from './db.js';
import type { AlertAttemptRow, AlertDeliveryRow, AlertDeliveryStatus } from './schema.js';

export type { AlertDeliveryStatus };

/** A part's online state as last recorded for its part_online / part_offline triggers. */
export type PartAlertState = 'online' | 'offline';

/** One notification of one event in the outbox. */
export interface AlertDeliveryRecord {
  id: string;
  organizationId: string;
  partId: string;
  eventType: string;
  triggerName: string;
  notificationType: string;
  /** The webhook URL or email address. */
  target: string;
  /** The JSON body, as sent (its exact text is what the signature covers). */
  body: string;
  status: AlertDeliveryStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string;
  giveUpAt: string;
  finishedAt: string | undefined;
  lastError: string | undefined;
}

/** A delivery claimed for sending: `leaseOwner` names this claim until `leaseUntil`. */
export interface ClaimedDelivery extends AlertDeliveryRecord {
  leaseOwner: string;
}

export interface AlertAttemptRecord {
  id: string;
  deliveryId: string;
  /** 1 for the first try. */
  attempt: number;
  attemptedAt: string;
  outcome: 'delivered' | 'failed';
  httpStatus: number | undefined;
  error: string | undefined;
  durationMs: number;
}

/** A notification's place in the throttle: a part's trigger and one of its targets. */
export interface ThrottleKey {
  partId: string;
  triggerName: string;
  /** `<notification type>:<target>`. */
  channel: string;
}

/** How a finished try leaves a delivery. */
export type DeliveryOutcome =
  | { status: 'delivered' | 'failed'; finishedAt: string; lastError: string | undefined }
  | { status: 'pending'; nextAttemptAt: string; lastError: string };

const toDelivery = (row: AlertDeliveryRow): AlertDeliveryRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  partId: row.part_id,
  eventType: row.event_type,
  triggerName: row.trigger_name,
  notificationType: row.notification_type,
  target: row.target,
  body: row.payload,
  status: row.status,
  attempts: row.attempts,
  createdAt: row.created_at,
  nextAttemptAt: row.next_attempt_at,
  giveUpAt: row.give_up_at,
  finishedAt: row.finished_at ?? undefined,
  lastError: row.last_error ?? undefined,
});

const toAttempt = (row: AlertAttemptRow): AlertAttemptRecord => ({
  id: row.id,
  deliveryId: row.delivery_id,
  attempt: row.attempt,
  attemptedAt: row.attempted_at,
  outcome: row.outcome === 'delivered' ? 'delivered' : 'failed',
  httpStatus: row.http_status ?? undefined,
  error: row.error ?? undefined,
  durationMs: row.duration_ms,
});

/**
 * Machine alerts: organizations' webhook secrets, watched parts' online states, notification
 * throttles, and the outbox of deliveries with their attempts. Every change that must happen once
 * across replicas is a conditional UPDATE (or an insert that does nothing on conflict) whose row
 * count says who won.
 */
export class AlertRepository {
  // -------------------------------------------------------------------------------------------
  // Webhook secrets

  async findWebhookSecret(db: Db, organizationId: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('organization_webhook_secrets')
      .select('secret_ciphertext')
      .where('organization_id', '=', organizationId)
      .executeTakeFirst();
    return row?.secret_ciphertext;
  }

  /** Stores `sealed` unless the organization has a secret already; returns the stored one. */
  async settleWebhookSecret(
    db: Db,
    organizationId: string,
    sealed: string,
    createdAt: string,
  ): Promise<string> {
    await db
      .insertInto('organization_webhook_secrets')
      .values({ organization_id: organizationId, secret_ciphertext: sealed, created_at: createdAt })
      .onConflict((c) => c.column('organization_id').doNothing())
      .execute();
    return (await this.findWebhookSecret(db, organizationId)) ?? sealed;
  }

  // -------------------------------------------------------------------------------------------
  // Online states

  /**
   * Parts that have called at least once and whose config may hold triggers: their own mentions
   * `"triggers"`, or they include fragments (whose merged result may).
   */
  async listWatchCandidates(db: Db): Promise<{ partId: string; lastAccess: string }[]> {
    const rows = await db
      .selectFrom('robot_parts')
      .select(['id', 'last_access'])
      .where('last_access', 'is not', null)
      .where((eb) =>
        eb.or([
          eb('config', 'like', '%"triggers"%'),
          eb.exists(
            eb
              .selectFrom('fragment_uses')
              .select(sql<number>`1`.as('one'))
              .where('fragment_uses.user_type', '=', 'part')
              .whereRef('fragment_uses.user_id', '=', 'robot_parts.id'),
          ),
        ]),
      )
      .execute();
    return rows.map((r) => ({ partId: r.id, lastAccess: r.last_access ?? '' }));
  }

  async listStates(db: Db): Promise<Map<string, PartAlertState>> {
    const rows = await db.selectFrom('part_alert_states').select(['part_id', 'state']).execute();
    return new Map(rows.map((r) => [r.part_id, r.state]));
  }

  /** Records a part's first observed state; false if one is recorded already. */
  async insertState(db: Db, partId: string, state: PartAlertState, at: string): Promise<boolean> {
    const result = await db
      .insertInto('part_alert_states')
      .values({ part_id: partId, state, changed_at: at })
      .onConflict((c) => c.column('part_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** Moves a part from `from` to `to`; true for the one caller that did. */
  async transitionState(
    db: Db,
    partId: string,
    from: PartAlertState,
    to: PartAlertState,
    at: string,
  ): Promise<boolean> {
    const result = await db
      .updateTable('part_alert_states')
      .set({ state: to, changed_at: at })
      .where('part_id', '=', partId)
      .where('state', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteStates(db: Db, partIds: readonly string[]): Promise<void> {
    for (let i = 0; i < partIds.length; i += 500) {
      await db
        .deleteFrom('part_alert_states')
        .where('part_id', 'in', partIds.slice(i, i + 500))
        .execute();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Throttles

  /**
   * Takes the notification's turn at `now` if it last fired at or before `notAfter` (or never):
   * true for the one caller that took it. Otherwise false, with when it last fired.
   */
  async takeThrottle(
    db: Db,
    key: ThrottleKey,
    now: string,
    notAfter: string,
  ): Promise<{ taken: true } | { taken: false; lastFiredAt: string }> {
    const updated = await db
      .updateTable('alert_throttles')
      .set({ last_fired_at: now })
      .where('part_id', '=', key.partId)
      .where('trigger_name', '=', key.triggerName)
      .where('channel', '=', key.channel)
      .where('last_fired_at', '<=', notAfter)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return { taken: true };
    const inserted = await db
      .insertInto('alert_throttles')
      .values({
        part_id: key.partId,
        trigger_name: key.triggerName,
        channel: key.channel,
        last_fired_at: now,
      })
      .onConflict((c) => c.columns(['part_id', 'trigger_name', 'channel']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return { taken: true };
    const row = await db
      .selectFrom('alert_throttles')
      .select('last_fired_at')
      .where('part_id', '=', key.partId)
      .where('trigger_name', '=', key.triggerName)
      .where('channel', '=', key.channel)
      .executeTakeFirst();
    return { taken: false, lastFiredAt: row?.last_fired_at ?? now };
  }

  // -------------------------------------------------------------------------------------------
  // Deliveries

  async insertDelivery(db: Db, delivery: AlertDeliveryRecord): Promise<void> {
    await db
      .insertInto('alert_deliveries')
      .values({
        id: delivery.id,
        organization_id: delivery.organizationId,
        part_id: delivery.partId,
        event_type: delivery.eventType,
        trigger_name: delivery.triggerName,
        notification_type: delivery.notificationType,
        target: delivery.target,
        payload: delivery.body,
        status: delivery.status,
        attempts: delivery.attempts,
        created_at: delivery.createdAt,
        next_attempt_at: delivery.nextAttemptAt,
        give_up_at: delivery.giveUpAt,
        lease_owner: null,
        lease_until: null,
        finished_at: delivery.finishedAt ?? null,
        last_error: delivery.lastError ?? null,
      })
      .execute();
  }

  /**
   * Claims up to `limit` deliveries due at `now` (pending and due, or sending with an expired
   * lease: their replica stopped mid-send) until `leaseUntil`. Each claim is a conditional UPDATE
   * that only one caller can win, so every delivery is handed to one sender at a time.
   */
  async claimDue(
    db: Db,
    now: string,
    leaseUntil: string,
    limit: number,
    newOwner: () => string,
  ): Promise<ClaimedDelivery[]> {
    const candidates = await db
      .selectFrom('alert_deliveries')
      .select('id')
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
          eb.and([eb('status', '=', 'sending'), eb('lease_until', '<=', now)]),
        ]),
      )
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    const claimed: ClaimedDelivery[] = [];
    for (const { id } of candidates) {
      const owner = newOwner();
      const result = await db
        .updateTable('alert_deliveries')
        .set((eb) => ({
          status: 'sending',
          lease_owner: owner,
          lease_until: leaseUntil,
          attempts: eb('attempts', '+', 1),
        }))
        .where('id', '=', id)
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
            eb.and([eb('status', '=', 'sending'), eb('lease_until', '<=', now)]),
          ]),
        )
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) continue;
      const row = await db.selectFrom('alert_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
      if (row?.lease_owner === owner) claimed.push({ ...toDelivery(row), leaseOwner: owner });
    }
    return claimed;
  }

  /** Ends a claim; false if the claim was lost (its lease expired and another took it). */
  async finish(db: Db, delivery: ClaimedDelivery, outcome: DeliveryOutcome): Promise<boolean> {
    const result = await db
      .updateTable('alert_deliveries')
      .set(
        outcome.status === 'pending'
          ? {
              status: 'pending',
              next_attempt_at: outcome.nextAttemptAt,
              last_error: outcome.lastError,
              lease_owner: null,
              lease_until: null,
            }
          : {
              status: outcome.status,
              finished_at: outcome.finishedAt,
              last_error: outcome.lastError ?? null,
              lease_owner: null,
              lease_until: null,
            },
      )
      .where('id', '=', delivery.id)
      .where('status', '=', 'sending')
      .where('lease_owner', '=', delivery.leaseOwner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async addAttempt(db: Db, attempt: AlertAttemptRecord): Promise<void> {
    await db
      .insertInto('alert_attempts')
      .values({
        id: attempt.id,
        delivery_id: attempt.deliveryId,
        attempt: attempt.attempt,
        attempted_at: attempt.attemptedAt,
        outcome: attempt.outcome,
        http_status: attempt.httpStatus ?? null,
        error: attempt.error ?? null,
        duration_ms: attempt.durationMs,
      })
      .execute();
  }

  /** A part's deliveries, newest first. */
  async listForPart(db: Db, partId: string, limit: number): Promise<AlertDeliveryRecord[]> {
    const rows = await db
      .selectFrom('alert_deliveries')
      .selectAll()
      .where('part_id', '=', partId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  /** The attempts of these deliveries, in order. */
  async listAttempts(db: Db, deliveryIds: readonly string[]): Promise<AlertAttemptRecord[]> {
    if (deliveryIds.length === 0) return [];
    const rows = await db
      .selectFrom('alert_attempts')
      .selectAll()
      .where('delivery_id', 'in', [...deliveryIds])
      .orderBy('delivery_id')
      .orderBy('attempt')
      .orderBy('attempted_at')
      .execute();
    return rows.map(toAttempt);
  }

  /** Removes up to `limit` deliveries that finished before `before` (their attempts go with them). */
  async pruneFinished(db: Db, before: string, limit: number): Promise<number> {
    const old = await db
      .selectFrom('alert_deliveries')
      .select('id')
      .where('status', 'in', ['delivered', 'failed'])
      .where('finished_at', '<', before)
      .limit(limit)
      .execute();
    if (old.length === 0) return 0;
    const result = await db
      .deleteFrom('alert_deliveries')
      .where(
        'id',
        'in',
        old.map((r) => r.id),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
