import { createHmac } from 'node:crypto';
import { digestsEqual } from './hashing.js';

/** What a signed URL check found. */
export type SignatureCheck = 'valid' | 'expired' | 'invalid';

/**
 * Signs download URLs so that whoever holds one may fetch the file until it expires, with no
 * header: viam-server fetches package URLs with a plain HTTP client. The signature is an
 * HMAC-SHA256 of the path and the expiry, under a key derived from the server's token-signing
 * key (so every replica given the same keys accepts the same URLs).
 */
export class UrlSigner {
  private readonly key: Buffer;

  constructor(serverKey: Uint8Array) {
    this.key = createHmac('sha256', serverKey).update('flotilla download url signing').digest();
  }

  /** The query string that signs `path` until `expiresAt` (seconds since the epoch). */
  query(path: string, expiresAt: number): string {
    return `expires=${expiresAt}&signature=${this.signature(path, expiresAt)}`;
  }

  /** Whether `signature` signs `path` until `expires`, and that time has not passed. */
  check(path: string, expires: string, signature: string, nowSeconds: number): SignatureCheck {
    if (!/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(signature)) return 'invalid';
    const expiresAt = Number(expires);
    if (!digestsEqual(this.signature(path, expiresAt), signature)) return 'invalid';
    return expiresAt > nowSeconds ? 'valid' : 'expired';
  }

  private signature(path: string, expiresAt: number): string {
    return createHmac('sha256', this.key).update(`${path}\n${expiresAt}`).digest('hex');
  }
}
