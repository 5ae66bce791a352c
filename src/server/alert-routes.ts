import type { Logger } from '../domain/logger.js';
import type { AlertDeliveryView, AlertService } from '../services/alert-service.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import { fleetJsonRoute } from './fleet-json-route.js';
import type { HttpRoute } from './http-replies.js';

const iso = (date: Date | undefined) => (date === undefined ? null : date.toISOString());

/** A delivery as the alerts route answers it (snake_case, like the webhook body). */
function deliveryJson(d: AlertDeliveryView) {
  return {
    id: d.id,
    event_type: d.eventType,
    trigger_name: d.triggerName,
    notification_type: d.notificationType,
    target: d.target,
    status: d.status,
    created_at: iso(d.createdAt),
    next_attempt_at: iso(d.nextAttemptAt),
    finished_at: iso(d.finishedAt),
    last_error: d.lastError ?? null,
    payload: d.payload ?? null,
    attempts: d.attempts.map((a) => ({
      attempt: a.attempt,
      attempted_at: iso(a.attemptedAt),
      outcome: a.outcome,
      http_status: a.httpStatus ?? null,
      error: a.error ?? null,
      duration_ms: a.durationMs,
    })),
  };
}

/**
 * The machine alert routes, with `authorization: Bearer <token>`:
 *
 * - `GET /api/parts/<part id>/alerts`: the part's recent deliveries, newest first (at most 50),
 *   each with its attempts: `{"deliveries": [...]}`. Needs read_robot_config on the part.
 * - `GET /api/organizations/<organization id>/webhook-secret`: `{"secret": "whsec_..."}`, the key
 *   webhook signatures are made with, created at first use. Needs write_organization (owners).
 */
export function alertRoutes(alerts: AlertService, auth: AuthenticationService, logger: Logger): HttpRoute[] {
  return [
    fleetJsonRoute(
      'part alerts',
      /^\/api\/parts\/([^/]+)\/alerts$/,
      auth,
      logger,
      async (principal, [partId]) => ({
        deliveries: (await alerts.deliveriesForPart(principal, partId ?? '')).map(deliveryJson),
      }),
    ),
    fleetJsonRoute(
      'webhook secret',
      /^\/api\/organizations\/([^/]+)\/webhook-secret$/,
      auth,
      logger,
      async (principal, [organizationId]) => ({
        secret: await alerts.webhookSecret(principal, organizationId ?? ''),
      }),
    ),
  ];
}
