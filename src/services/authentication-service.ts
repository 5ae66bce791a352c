import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../authz/principal.js';
import { digestsEqual, dummyPasswordHash, hashApiKey, verifyPassword } from '../crypto/hashing.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { TokenClaims, TokenIssuer } from '../crypto/tokens.js';
import { resourceExhausted, unauthenticated } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { ChangeKey, ChangeTracker } from '../store/change-tracker.js';
import type { Db } from '../store/db.js';
import type { Repositories } from '../store/index.js';
import type { UserRecord } from '../store/records.js';
import { FreshCache } from './fresh-cache.js';
import { LoginThrottle } from './login-throttle.js';

const BAD_CREDENTIALS = 'invalid credentials';

/** How much of a presented email a log line keeps. */
const LOGGED_EMAIL_CHARS = 128;

export interface AuthenticationOptions {
  /** Failed and refused password logins are logged here at warn level (never the password). */
  logger?: Pick<Logger, 'warn'>;
  /** The backoff for password logins; defaults to a fresh one with the default settings. */
  throttle?: LoginThrottle;
  /** Where revocations are reported; with it, checked tokens are remembered until they expire. */
  changes?: ChangeTracker;
  /** How many checked tokens are remembered (default 50,000). */
  rememberedTokens?: number;
}

/** A checked token's caller, valid until `expiresAtMs` unless its credential changes. */
interface CheckedToken {
  principal: Principal;
  expiresAtMs: number;
}

/** A short fingerprint of a stored credential; a token minted from an older one no longer matches. */
const fingerprint = (storedHash: string): string =>
  createHash('sha256').update(storedHash).digest('hex').slice(0, 16);

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Exchanges credentials for access tokens, and tokens for principals. The token check runs on
 * every call and looks the credential up again, so a deleted or rotated key, or a deleted part
 * secret, stops working at once.
 */
export class AuthenticationService {
  private readonly logger: Pick<Logger, 'warn'> | undefined;
  private readonly throttle: LoginThrottle;
  private readonly checked: FreshCache<string, CheckedToken> | undefined;

  constructor(
    private readonly db: Db,
    private readonly repos: Repositories,
    private readonly tokens: TokenIssuer,
    private readonly secrets: SecretBox,
    /** Runs after each successful password login (claims invites that were not mailed). */
    private readonly onPasswordLogin: (user: { id: string; email: string }) => Promise<void> = () =>
      Promise.resolve(),
    options: AuthenticationOptions = {},
  ) {
    this.logger = options.logger;
    this.throttle = options.throttle ?? new LoginThrottle();
    this.checked = options.changes && new FreshCache(options.changes, options.rememberedTokens ?? 50_000);
    // Made now rather than on the first unknown email, which would otherwise take twice as long.
    dummyPasswordHash().catch(() => {});
  }

  /**
   * An access token for valid credentials; UNAUTHENTICATED otherwise, without saying which part was
   * wrong. Password logins are throttled per email and per `source` (the client's address):
   * RESOURCE_EXHAUSTED after repeated failures, see login-throttle.ts.
   */
  async authenticate(entity: string, type: string, payload: string, source?: string): Promise<string> {
    const { principal, credentialVersion } = await this.verify(entity, type, payload, source);
    return this.tokens.mint({
      subject: principal.id,
      kind: principal.kind,
      credentialVersion,
    });
  }

  /**
   * The principal behind credentials presented directly, without a token (a package download's
   * `part_id` / `secret` or `key_id` / `key` headers); UNAUTHENTICATED if they are wrong.
   */
  async principalForCredentials(entity: string, type: string, payload: string): Promise<Principal> {
    return (await this.verify(entity, type, payload)).principal;
  }

  private async verify(
    entity: string,
    type: string,
    payload: string,
    source?: string,
  ): Promise<{ principal: Principal; credentialVersion: string }> {
    switch (type) {
      case 'api-key': {
        const key = entity ? await this.repos.apiKeys.findById(this.db, entity) : undefined;
        if (!key || !digestsEqual(key.keyHash, hashApiKey(payload))) throw unauthenticated(BAD_CREDENTIALS);
        return { principal: { kind: 'api-key', id: key.id }, credentialVersion: fingerprint(key.keyHash) };
      }
      case 'password': {
        const email = entity.trim().toLowerCase();
        // Refused before anything is looked up or hashed, alike for known and unknown emails.
        const attempt = this.throttle.attempt(email, source);
        if (!attempt.allowed) {
          this.logFailedLogin(entity, source, true);
          const seconds = Math.ceil(attempt.retryAfterMs / 1000);
          throw resourceExhausted(`too many failed logins; retry in ${seconds} s`);
        }
        let user: UserRecord | undefined;
        let ok = false;
        try {
          user = email ? await this.repos.users.findByEmail(this.db, email) : undefined;
          // An unknown email, or a user without a password, costs the same scrypt as a wrong password.
          const matches = await verifyPassword(payload, user?.passwordHash ?? (await dummyPasswordHash()));
          ok = matches && !!user?.passwordHash;
        } finally {
          // Anything but a match (also an unexpected error) counts as a failure.
          if (ok) attempt.succeeded();
          else attempt.failed();
        }
        if (!ok || !user?.passwordHash) {
          this.logFailedLogin(entity, source, false);
          throw unauthenticated(BAD_CREDENTIALS);
        }
        await this.onPasswordLogin(user);
        return {
          principal: { kind: 'user', id: user.id, email: user.email },
          credentialVersion: fingerprint(user.passwordHash),
        };
      }
      case 'robot-secret': {
        const part = entity ? await this.repos.parts.findById(this.db, entity) : undefined;
        const secrets = part ? await this.repos.parts.listSecrets(this.db, part.id) : [];
        const match = secrets.find((s) => sameSecret(this.secrets.open(s.sealed), payload));
        if (!part || !match) throw unauthenticated(BAD_CREDENTIALS);
        return {
          principal: { kind: 'robot-part', id: part.id, secretId: match.id },
          credentialVersion: match.id,
        };
      }
      default:
        throw unauthenticated(`unsupported credential type "${type.slice(0, 64)}"`);
    }
  }

  private logFailedLogin(entity: string, source: string | undefined, throttled: boolean): void {
    this.logger?.warn('password login failed', {
      email: entity.slice(0, LOGGED_EMAIL_CHARS),
      source: source ?? null,
      throttled,
    });
  }

  /**
   * The principal behind a bearer token; UNAUTHENTICATED if it is invalid, expired or revoked.
   * Machines send the same token with every call: a token checked once is remembered until it
   * expires, and forgotten as soon as its credential changes (a part secret deleted, a key
   * rotated or deleted, the part or machine deleted: `ChangeTracker`), so revocation still takes
   * effect on the next call.
   */
  async principalFor(token: string): Promise<Principal> {
    const known = this.checked?.get(token);
    if (known) {
      if (known.expiresAtMs > Date.now()) return known.principal;
      this.checked?.delete(token);
      throw unauthenticated('invalid or expired access token');
    }
    const stamp = this.checked?.stamp() ?? 0;
    const claims = await this.tokens.verify(token);
    if (!claims) throw unauthenticated('invalid or expired access token');
    const { principal, dependsOn } = await this.check(claims);
    this.checked?.set(token, { principal, expiresAtMs: claims.expiresAtMs }, stamp, dependsOn);
    return principal;
  }

  private async check(claims: TokenClaims): Promise<{ principal: Principal; dependsOn: ChangeKey[] }> {
    switch (claims.kind) {
      case 'api-key': {
        const key = await this.repos.apiKeys.findById(this.db, claims.subject);
        if (!key || fingerprint(key.keyHash) !== claims.credentialVersion)
          throw unauthenticated('access token revoked');
        return { principal: { kind: 'api-key', id: key.id }, dependsOn: [`api-key:${key.id}`] };
      }
      case 'user': {
        const user = await this.repos.users.findById(this.db, claims.subject);
        if (!user?.passwordHash || fingerprint(user.passwordHash) !== claims.credentialVersion) {
          throw unauthenticated('access token revoked');
        }
        return {
          principal: { kind: 'user', id: user.id, email: user.email },
          dependsOn: [`user:${user.id}`],
        };
      }
      case 'robot-part': {
        const secret = await this.repos.parts.findSecret(this.db, claims.subject, claims.credentialVersion);
        const part = secret && (await this.repos.parts.findById(this.db, claims.subject));
        if (!secret || !part) throw unauthenticated('access token revoked');
        return {
          principal: { kind: 'robot-part', id: claims.subject, secretId: secret.id },
          // Deleting the machine deletes its parts with it.
          dependsOn: [`part:${part.id}`, `machine:${part.machineId}`],
        };
      }
    }
  }
}
