import type { Kysely } from 'kysely';
import { Authorizer } from '../authz/authorizer.js';
import { CertificateAuthority } from '../crypto/certificate-authority.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { ServerKeys } from '../crypto/server-keys.js';
import { TokenIssuer } from '../crypto/tokens.js';
import { AuthenticationService } from '../services/authentication-service.js';
import { LoginThrottle, type LoginThrottleSettings } from '../services/login-throttle.js';
import type { FleetSettings, ServiceDeps } from '../services/context.js';
import { createServices, type Services } from '../services/index.js';
import type { InviteDelivery } from '../mail/invite-mailer.js';
import { createRepositories, type Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';
import type { Logger } from './logger.js';

export interface Wiring {
  deps: ServiceDeps;
  repos: Repositories;
  services: Services;
  auth: AuthenticationService;
}

/** Builds repositories and services over an open database: the same graph for `serve` and `init`. */
export function wireServices(
  db: Kysely<Database>,
  dataDir: string,
  keys: ServerKeys,
  settings: FleetSettings,
  tokenTtlSeconds: number,
  inviteDelivery?: InviteDelivery,
  /** Where failed password logins are reported; none for the command-line tools. */
  logger?: Logger,
  /** The password login backoff (defaults in login-throttle.ts); its state lives in this process. */
  loginThrottle: Partial<LoginThrottleSettings> = {},
): Wiring {
  CertificateAuthority.ensureIn(dataDir);
  const repos = createRepositories();
  const secrets = new SecretBox(keys.secretEncryptionKey);
  const deps: ServiceDeps = {
    db,
    repos,
    authz: new Authorizer(repos),
    secrets,
    settings,
    certificates: CertificateAuthority.loadFrom(dataDir),
  };
  const services = createServices(deps, inviteDelivery);
  const auth = new AuthenticationService(
    db,
    repos,
    new TokenIssuer(keys.tokenSigningKey, tokenTtlSeconds),
    secrets,
    // Invites that were not mailed are claimed when their user logs in with a password.
    (user) => services.members.claimUnmailedInvites(user),
    { logger, throttle: new LoginThrottle(loginThrottle) },
  );
  return { deps, repos, services, auth };
}
