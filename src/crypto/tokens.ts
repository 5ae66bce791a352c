import { SignJWT, jwtVerify } from 'jose';

/** What kind of entity a token stands for. */
export type TokenSubjectKind = 'user' | 'api-key' | 'robot-part';

export interface TokenClaims {
  subject: string;
  kind: TokenSubjectKind;
  /** A fingerprint of the credential the token was minted from: a rotated key no longer matches. */
  credentialVersion: string;
  /** When the token expires, in milliseconds since the epoch. */
  expiresAtMs: number;
}

const ISSUER = 'flotilla';
/** How many verified tokens are remembered. */
const VERIFIED_TOKENS_KEPT = 10_000;

/** Mints and checks access tokens (HS256 JWTs signed with the server's key). */
export class TokenIssuer {
  private readonly verified = new Map<string, { claims: TokenClaims; expiresAtMs: number }>();

  constructor(
    private readonly key: Uint8Array,
    private readonly ttlSeconds: number,
  ) {}

  mint(claims: Omit<TokenClaims, 'expiresAtMs'>): Promise<string> {
    return (
      new SignJWT({ knd: claims.kind, ver: claims.credentialVersion })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.subject)
        .setIssuer(ISSUER)
        .setIssuedAt()
        // Rounded up: JWT times are whole seconds, and a token must live at least its full lifetime.
        .setExpirationTime(Math.ceil(Date.now() / 1000) + this.ttlSeconds)
        .sign(this.key)
    );
  }

  /**
   * The token's claims, or undefined if it is malformed, forged or expired. A token whose
   * signature was checked once is remembered until it expires (machines send the same token
   * with every call), so later checks cost a lookup; revocation is checked by the caller on
   * every call regardless.
   */
  async verify(token: string): Promise<TokenClaims | undefined> {
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAtMs > Date.now()) return known.claims;
      this.verified.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER });
      const kind = payload.knd;
      if (typeof payload.sub !== 'string' || typeof payload.ver !== 'string') return undefined;
      if (kind !== 'user' && kind !== 'api-key' && kind !== 'robot-part') return undefined;
      if (typeof payload.exp !== 'number') return undefined;
      const claims: TokenClaims = {
        subject: payload.sub,
        kind,
        credentialVersion: payload.ver,
        expiresAtMs: payload.exp * 1000,
      };
      // Bounded: when full, start over (the next call of each token re-verifies it).
      if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.clear();
      this.verified.set(token, { claims, expiresAtMs: payload.exp * 1000 });
      return claims;
    } catch {
      return undefined;
    }
  }
}
