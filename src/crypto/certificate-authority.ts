import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

const CA_CERT_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
const CA_YEARS = 10;
const LEAF_DAYS = 90;

/** A certificate with its private key, both PEM. */
export interface IssuedCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

function newRsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs1', format: 'pem' })
    .toString();
}

const serial = (): string => '01' + randomBytes(15).toString('hex');

/** A fresh RSA key and an unsigned certificate for it, valid from a minute ago for `days`. */
function draft(days: number): { keyPem: string; key: forge.pki.rsa.PrivateKey; cert: forge.pki.Certificate } {
  const keyPem = newRsaKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  return { keyPem, key, cert };
}

/**
 * The server's certificate authority, which signs the TLS certificates machine parts fetch with
 * RobotService.Certificate. `flotilla init` makes it in the data directory (ca.pem, ca-key.pem).
 */
export class CertificateAuthority {
  private constructor(
    readonly certificatePem: string,
    private readonly cert: forge.pki.Certificate,
    private readonly key: forge.pki.rsa.PrivateKey,
  ) {}

  /** Creates the CA files in the data directory unless they exist. */
  static ensureIn(dataDir: string): void {
    if (existsSync(join(dataDir, CA_CERT_FILE))) return;
    const { keyPem, key, cert } = draft(CA_YEARS * 365);
    const name = [
      { name: 'commonName', value: 'Flotilla machine CA' },
      { name: 'organizationName', value: 'Flotilla' },
    ];
    cert.setSubject(name);
    cert.setIssuer(name);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(key, forge.md.sha256.create());
    writeFileSync(join(dataDir, CA_KEY_FILE), keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(join(dataDir, CA_CERT_FILE), forge.pki.certificateToPem(cert), { mode: 0o644 });
  }

  /** True if the CA can be loaded: both files in the data directory, or both variables set. */
  static isAvailable(dataDir: string, env: NodeJS.ProcessEnv = {}): boolean {
    if (env.FLOTILLA_MACHINE_CA_CERT && env.FLOTILLA_MACHINE_CA_KEY) return true;
    return existsSync(join(dataDir, CA_CERT_FILE)) && existsSync(join(dataDir, CA_KEY_FILE));
  }

  /**
   * Loads the CA: from FLOTILLA_MACHINE_CA_CERT and FLOTILLA_MACHINE_CA_KEY (PEM text) when both
   * are set, as replicas may be given it, else from the data directory.
   */
  static loadFrom(dataDir: string, env: NodeJS.ProcessEnv = {}): CertificateAuthority {
    const fromEnv = env.FLOTILLA_MACHINE_CA_CERT && env.FLOTILLA_MACHINE_CA_KEY;
    const certificatePem = fromEnv
      ? (env.FLOTILLA_MACHINE_CA_CERT ?? '')
      : readFileSync(join(dataDir, CA_CERT_FILE), 'utf8');
    const keyPem = fromEnv
      ? (env.FLOTILLA_MACHINE_CA_KEY ?? '')
      : readFileSync(join(dataDir, CA_KEY_FILE), 'utf8');
    return new CertificateAuthority(
      certificatePem,
      forge.pki.certificateFromPem(certificatePem),
      forge.pki.privateKeyFromPem(keyPem),
    );
  }

  /** A server certificate for these DNS names, signed by this CA. */
  issue(commonName: string, dnsNames: readonly string[]): IssuedCertificate {
    const { keyPem, cert } = draft(LEAF_DAYS);
    cert.setSubject([{ name: 'commonName', value: commonName }]);
    cert.setIssuer(this.cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) },
    ]);
    cert.sign(this.key, forge.md.sha256.create());
    return { certificatePem: forge.pki.certificateToPem(cert), privateKeyPem: keyPem };
  }
}
