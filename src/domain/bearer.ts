/**
 * The token of an `authorization: Bearer <token>` header value, or undefined when the header is
 * missing or names another scheme. The scheme is case-insensitive (RFC 9110); the token is one
 * run of non-space characters.
 */
export function bearerTokenOf(authorization: string | null | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
}
