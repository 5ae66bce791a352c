import { SignJWT, jwtVerify } from 'jose';

/** What kind of entity a token stands for. */
export type TokenSubjectKind = 'user' | 'api-key' | 'robot-part';

export interface TokenClaims {
  subject: string;
  kind: TokenSubjectKind;
  /** A fingerprint of the credential the token was minted from: a rotated key no longer matches. */
  credentialVersion: string;
}

const ISSUER = 'flotilla';

/** Mints and checks access tokens (HS256 JWTs signed with the server's key). */
export class TokenIssuer {
  constructor(
    private readonly key: Uint8Array,
    private readonly ttlSeconds: number,
  ) {}

  mint(claims: TokenClaims): Promise<string> {
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

  /** The token's claims, or undefined if it is malformed, forged or expired. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER });
      const kind = payload.knd;
      if (typeof payload.sub !== 'string' || typeof payload.ver !== 'string') return undefined;
      if (kind !== 'user' && kind !== 'api-key' && kind !== 'robot-part') return undefined;
      return { subject: payload.sub, kind, credentialVersion: payload.ver };
    } catch {
      return undefined;
    }
  }
}
