import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The header a webhook delivery is signed in. */
export const SIGNATURE_HEADER = 'x-flotilla-signature';

/** A new organization webhook secret: 32 random bytes, as `whsec_` + base64url (no padding). */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * `sha256=<hex>`: the HMAC-SHA256, under the organization's secret (its text, as UTF-8), of
 * `<timestamp>.<body>`, where the timestamp is the `X-Flotilla-Timestamp` header (Unix seconds)
 * and the body the exact bytes sent. Receivers recompute it and compare in constant time.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Whether `signature` is what `signWebhook` gives for these values (constant-time compare). */
export function verifyWebhook(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
