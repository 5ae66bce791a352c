import type { AuthenticationService } from '../services/authentication-service.js';
import type { PartService } from '../services/part-service.js';
import type { HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';
import { fleetJsonRoute } from './fleet-json-route.js';

/**
 * `GET /api/parts/<part id>/merged-config` with `authorization: Bearer <token>`: the part's config
 * with its fragments merged in, as its machine receives it, for the console's Configure tab (the
 * public API has no call for it). Answers `{"config": {...}, "fragment_errors": [{"fragment_id",
 * "error"}]}`; needs read_robot_config on the part.
 */
export function mergedConfigRoute(
  parts: PartService,
  auth: AuthenticationService,
  logger: Logger,
): HttpRoute {
  return fleetJsonRoute(
    'merged config',
    /^\/api\/parts\/([^/]+)\/merged-config$/,
    auth,
    logger,
    async (principal, [partId]) => {
      const merged = await parts.mergedConfig(principal, partId ?? '');
      return {
        config: merged.config,
        fragment_errors: merged.fragmentErrors.map((f) => ({ fragment_id: f.fragmentId, error: f.error })),
      };
    },
  );
}
