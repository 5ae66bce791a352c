import type { Kysely } from 'kysely';
import type { SecretBox } from '../crypto/secret-box.js';
import { newWebhookSecret, signWebhook } from '../crypto/webhook-signature.js';
import { alertMailOf, retryDelayMs, type AlertPayload } from '../domain/alerts.js';
import { newId } from '../domain/ids.js';
import type { Logger } from '../domain/logger.js';
import type { AlertMailer } from '../mail/alert-mailer.js';
import type { AlertRepository, ClaimedDelivery, DeliveryOutcome } from '../store/alert-repository.js';
import { isForeignKeyViolation, nowIso, type Db } from '../store/db.js';
import type { Database } from '../store/schema.js';

/** How long one webhook POST may take, from connecting to the response's status line. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** How long a claim holds a delivery: well beyond one send, so a live sender never loses it. */
export const DELIVERY_LEASE_MS = 2 * 60_000;
/** Deliveries claimed (and sent concurrently) per round. */
const CLAIM_BATCH = 16;
/** Longest error text kept for an attempt. */
const MAX_ERROR_TEXT = 500;

/** How deliveries are retried. */
export interface RetryPolicy {
  /** The wait after the first failed try; it doubles each time (at most 10 minutes). */
  retryDelayMs: number;
}

/** What one try gave. `final`: trying again cannot help (no SMTP configured). */
interface TryResult {
  ok: boolean;
  httpStatus?: number | undefined;
  error?: string | undefined;
  final?: boolean;
}

const clip = (text: string) => (text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text);

/** A failed fetch in words: its cause (`connect ECONNREFUSED ...`), or that it timed out. */
function fetchFailure(error: unknown, stopping: boolean): string {
  if (stopping) return 'interrupted: the server was shutting down';
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return `no response within ${WEBHOOK_TIMEOUT_MS / 1000} s`;
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message) return `${error.message}: ${cause.message}`;
    return error.message;
  }
  return String(error);
}

/**
 * An organization's webhook secret, made (and stored sealed) at its first use. Replicas making one
 * at once agree on the first stored.
 */
export async function webhookSecretOf(
  db: Db,
  repo: AlertRepository,
  secrets: SecretBox,
  organizationId: string,
): Promise<string> {
  const sealed =
    (await repo.findWebhookSecret(db, organizationId)) ??
    (await repo.settleWebhookSecret(db, organizationId, secrets.seal(newWebhookSecret()), nowIso()));
  return secrets.open(sealed);
}

/**
 * Sends what the outbox holds: claims due deliveries with a lease (a conditional UPDATE, so each
 * is sent by one replica at a time), POSTs webhooks (signed) or mails, records each attempt, and
 * schedules a retry with exponential backoff until the delivery's `give_up_at`.
 */
export class AlertDispatcher {
  private readonly stopping = new AbortController();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly repo: AlertRepository,
    private readonly secrets: SecretBox,
    private readonly policy: RetryPolicy,
    private readonly mailer: AlertMailer | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** Sends every delivery due now, a batch at a time; resolves how many were tried. */
  async dispatchDue(): Promise<number> {
    let total = 0;
    while (!this.stopping.signal.aborted) {
      const now = Date.now();
      const claimed = await this.repo.claimDue(
        this.db,
        new Date(now).toISOString(),
        new Date(now + DELIVERY_LEASE_MS).toISOString(),
        CLAIM_BATCH,
        newId,
      );
      if (claimed.length === 0) break;
      await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
      total += claimed.length;
      if (claimed.length < CLAIM_BATCH) break;
    }
    return total;
  }

  /** Cuts sends in flight short (recorded as interrupted, to be retried) and claims no more. */
  stop(): void {
    this.stopping.abort();
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const started = Date.now();
    let result: TryResult;
    try {
      result =
        delivery.notificationType === 'webhook' ? await this.post(delivery) : await this.mail(delivery);
    } catch (error) {
      result = { ok: false, error: fetchFailure(error, this.stopping.signal.aborted) };
    }
    const finished = Date.now();
    const finishedAt = new Date(finished).toISOString();
    const error = result.error === undefined ? undefined : clip(result.error);
    let outcome: DeliveryOutcome;
    if (result.ok) {
      outcome = { status: 'delivered', finishedAt, lastError: undefined };
    } else {
      const next = finished + retryDelayMs(delivery.attempts, this.policy.retryDelayMs);
      outcome =
        result.final || next > Date.parse(delivery.giveUpAt)
          ? { status: 'failed', finishedAt, lastError: error }
          : { status: 'pending', nextAttemptAt: new Date(next).toISOString(), lastError: error ?? 'failed' };
    }
    try {
      await this.db.transaction().execute(async (trx) => {
        await this.repo.addAttempt(trx, {
          id: newId(),
          deliveryId: delivery.id,
          attempt: delivery.attempts,
          attemptedAt: new Date(started).toISOString(),
          outcome: result.ok ? 'delivered' : 'failed',
          httpStatus: result.httpStatus,
          error,
          durationMs: finished - started,
        });
        if (!(await this.repo.finish(trx, delivery, outcome))) {
          this.logger?.warn('an alert delivery was claimed again before its send was recorded', {
            delivery: delivery.id,
          });
        }
      });
    } catch (failure) {
      // The part (and so the delivery) was deleted meanwhile: nothing left to record.
      if (isForeignKeyViolation(failure)) return;
      this.logger?.warn('recording an alert delivery attempt failed; it will be tried again', {
        delivery: delivery.id,
        error: String(failure),
      });
    }
  }

  private async post(delivery: ClaimedDelivery): Promise<TryResult> {
    const secret = await webhookSecretOf(this.db, this.repo, this.secrets, delivery.organizationId);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const response = await fetch(delivery.target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Flotilla-Alerts/1',
        'x-flotilla-delivery': delivery.id,
        'x-flotilla-event': delivery.eventType,
        'x-flotilla-timestamp': timestamp,
        'x-flotilla-signature': signWebhook(secret, timestamp, delivery.body),
      },
      body: delivery.body,
      // A redirect is an answer like any other non-2xx: the signed body is not sent elsewhere.
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), this.stopping.signal]),
    });
    // The answer's body is not needed; dropping it frees the connection.
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return { ok: true, httpStatus: response.status };
    return {
      ok: false,
      httpStatus: response.status,
      error: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
    };
  }

  private async mail(delivery: ClaimedDelivery): Promise<TryResult> {
    if (!this.mailer) {
      return {
        ok: false,
        final: true,
        error: 'no SMTP server is configured (FLOTILLA_SMTP_URL): email alerts cannot be sent',
      };
    }
    const { subject, text } = alertMailOf(JSON.parse(delivery.body) as AlertPayload);
    await this.mailer.send({ to: delivery.target, subject, text });
    return { ok: true };
  }
}
