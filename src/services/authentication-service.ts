import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Principal } from '../authz/principal.js';
import { digestsEqual, hashApiKey, verifyPassword } from '../crypto/hashing.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { TokenIssuer } from '../crypto/tokens.js';
import { unauthenticated } from '../domain/errors.js';
import type { Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';

/** Credential types that Authenticate accepts. */
export const CREDENTIAL_TYPES = ['api-key', 'password', 'robot-secret'] as const;

const BAD_CREDENTIALS = 'invalid credentials';

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
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repos: Repositories,
    private readonly tokens: TokenIssuer,
    private readonly secrets: SecretBox,
    /** Runs after each successful password login (claims invites that were not mailed). */
    private readonly onPasswordLogin: (user: { id: string; email: string }) => Promise<void> = () =>
      Promise.resolve(),
  ) {}

  /** An access token for valid credentials; UNAUTHENTICATED otherwise, without saying which part was wrong. */
  async authenticate(entity: string, type: string, payload: string): Promise<string> {
    const { principal, credentialVersion } = await this.verify(entity, type, payload);
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
  ): Promise<{ principal: Principal; credentialVersion: string }> {
    switch (type) {
      case 'api-key': {
        const key = entity ? await this.repos.apiKeys.findById(this.db, entity) : undefined;
        if (!key || !digestsEqual(key.key_hash, hashApiKey(payload))) throw unauthenticated(BAD_CREDENTIALS);
        return { principal: { kind: 'api-key', id: key.id }, credentialVersion: fingerprint(key.key_hash) };
      }
      case 'password': {
        const user = entity
          ? await this.repos.users.findByEmail(this.db, entity.trim().toLowerCase())
          : undefined;
        if (!user?.password_hash || !(await verifyPassword(payload, user.password_hash))) {
          throw unauthenticated(BAD_CREDENTIALS);
        }
        await this.onPasswordLogin(user);
        return {
          principal: { kind: 'user', id: user.id, email: user.email },
          credentialVersion: fingerprint(user.password_hash),
        };
      }
      case 'robot-secret': {
        const part = entity ? await this.repos.parts.findById(this.db, entity) : undefined;
        const secrets = part ? await this.repos.parts.listSecrets(this.db, part.id) : [];
        const match = secrets.find((s) => sameSecret(this.secrets.open(s.secret_ciphertext), payload));
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

  /** The principal behind a bearer token; UNAUTHENTICATED if it is invalid, expired or revoked. */
  async principalFor(token: string): Promise<Principal> {
    const claims = await this.tokens.verify(token);
    if (!claims) throw unauthenticated('invalid or expired access token');
    switch (claims.kind) {
      case 'api-key': {
        const key = await this.repos.apiKeys.findById(this.db, claims.subject);
        if (!key || fingerprint(key.key_hash) !== claims.credentialVersion)
          throw unauthenticated('access token revoked');
        return { kind: 'api-key', id: key.id };
      }
      case 'user': {
        const user = await this.repos.users.findById(this.db, claims.subject);
        if (!user?.password_hash || fingerprint(user.password_hash) !== claims.credentialVersion) {
          throw unauthenticated('access token revoked');
        }
        return { kind: 'user', id: user.id, email: user.email };
      }
      case 'robot-part': {
        const secret = await this.repos.parts.findSecret(this.db, claims.subject, claims.credentialVersion);
        if (!secret) throw unauthenticated('access token revoked');
        return { kind: 'robot-part', id: claims.subject, secretId: secret.id };
      }
    }
  }
}
