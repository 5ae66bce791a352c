import type { Kysely } from 'kysely';
import { Authorizer } from '../authz/authorizer.js';
import { DEFAULT_ACCESS_FLUSH_MS, publicUrlFor, type ServerConfig } from '../config.js';
import { CertificateAuthority } from '../crypto/certificate-authority.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { ServerKeys } from '../crypto/server-keys.js';
import { TokenIssuer } from '../crypto/tokens.js';
import { UrlSigner } from '../crypto/url-signer.js';
import type { InviteDelivery } from '../mail/invite-mailer.js';
import { AuthenticationService } from '../services/authentication-service.js';
import type { FleetSettings, ServiceDeps } from '../services/context.js';
import {
  createServices,
  createStoreBackedServices,
  type ServedServices,
  type Services,
} from '../services/index.js';
import { LogTailHub } from '../services/log-tail-hub.js';
import type { MachineCacheSizes } from '../services/machine-agent-service.js';
import type { AlertOptions } from '../services/alert-service.js';
import { LoginThrottle, type LoginThrottleSettings } from '../services/login-throttle.js';
import type { BlobStore } from '../store/blob-store.js';
import { AuditRecorder, type AuditResource } from '../store/audit-recorder.js';
import { ChangeTracker, type ChangeKey } from '../store/change-tracker.js';
import { createRepositories, type Repositories } from '../store/index.js';
import type { PartLogStore } from '../store/part-log-store.js';
import type { Database } from '../store/schema.js';
import type { Logger } from '../domain/logger.js';

/**
 * The settings every service reads, from the configuration. The public URL depends on the port
 * the listener got (port 0 picks one), so until `port` is given it is only FLOTILLA_PUBLIC_URL;
 * `serve` completes the same object once listening. Without a configuration (`init`, which runs
 * before any is read and hands out no URL): no domain, no public URL.
 */
export function fleetSettings(config: ServerConfig | undefined, port?: number): FleetSettings {
  if (!config) return { domain: '', publicUrl: '', tls: false, restartCheckIntervalSeconds: 5 };
  return {
    domain: config.domain,
    publicUrl: port === undefined ? (config.publicUrl ?? '') : publicUrlFor(config, port),
    tls: config.tls !== undefined,
    restartCheckIntervalSeconds: config.restartCheckIntervalSeconds,
  };
}

/** What every service graph is built from: an open, migrated database and the server's keys. */
export interface RootInput {
  db: Kysely<Database>;
  dataDir: string;
  keys: ServerKeys;
  /** The machine CA; by default loaded from the data directory, made there first if missing. */
  certificates?: CertificateAuthority | undefined;
  /** The audit log's recorder, shared with whoever starts audited calls (the RPC interceptor). */
  audit?: AuditRecorder | undefined;
  /** Hooks the change tracker to the other replicas' (PostgreSQL); returns how to unhook it. */
  shareChanges?: ((changes: ChangeTracker) => () => void) | undefined;
  /** Read by the services when called, so `serve` may complete the public URL after listening. */
  settings: FleetSettings;
  tokenTtlSeconds: number;
  /** Mails or logs invite links; by default (the command-line tools) they are dropped. */
  inviteDelivery?: InviteDelivery | undefined;
  /** Where failed password logins are reported; none for the command-line tools. */
  logger?: Logger | undefined;
  /** The password login backoff (defaults in login-throttle.ts); its state lives in this process. */
  loginThrottle?: Partial<LoginThrottleSettings> | undefined;
  /** How many checked access tokens are remembered (default 50,000; 0: none). */
  rememberedTokens?: number | undefined;
}

/** What only `serve` opens, for the services that keep machine logs and files. */
export interface ServeStores {
  logStore: PartLogStore;
  blobs: BlobStore;
  /** Most log entries a live tail may have waiting for a slow client. */
  logTailBuffer: number;
  /** How often machines' last calls are written (they are recorded in memory meanwhile), in ms. */
  accessFlushMs?: number | undefined;
  /** Entries the machine-facing caches keep; zero turns a cache off. */
  machineCacheSizes?: MachineCacheSizes | undefined;
  /** Largest module file or package accepted, in bytes. */
  moduleFileMaxBytes: number;
  /** How long a signed package download URL stays valid, in seconds. */
  packageUrlTtlSeconds: number;
  /** Machine alerts: offline and retry settings, the alert mailer, the logger. */
  alerts?: AlertOptions | undefined;
}

/** A built service graph. */
export interface Composition<S> {
  deps: ServiceDeps;
  audit: AuditRecorder;
  repos: Repositories;
  services: S;
  /** Ends what the services hold open (live log tails); the stores stay with whoever opened them. */
  close(): void;
  /** Writes what is kept in memory to be written later (machines' last calls); after `close`. */
  drain(): Promise<void>;
}

/** The services of the command-line tools: everything over the database alone, and authentication. */
export type FleetServices = Services & { auth: AuthenticationService };

/**
 * The composition root: builds the repositories, the authorizer and every service, the same graph
 * for `serve`, `init` and `invite-link`. Given the stores only `serve` opens (log store, blob
 * store), it also builds the services over them, the live tails' hub and the package URL signer,
 * giving everything the RPC routes and the plain-HTTP routes serve.
 */
export function composeServices(input: RootInput): Composition<FleetServices>;
export function composeServices(input: RootInput, stores: ServeStores): Composition<ServedServices>;
export function composeServices(
  input: RootInput,
  stores?: ServeStores,
): Composition<FleetServices> | Composition<ServedServices> {
  const { dataDir, keys } = input;
  const audit = input.audit ?? new AuditRecorder();
  // The services' instance counts each call's writes, so its transactions know to record it.
  const db = input.db.withPlugin(audit.plugin);
  const changes = new ChangeTracker();
  changes.trackTransactions(db);
  changes.observeWith((keys) => audit.noteResources(keys.flatMap(auditResourceOf)));
  audit.trackTransactions(db);
  const unshare = input.shareChanges?.(changes) ?? (() => {});
  const repos = createRepositories(changes);
  const secrets = new SecretBox(keys.secretEncryptionKey);
  const deps: ServiceDeps = {
    db,
    repos,
    authz: new Authorizer(repos, audit),
    secrets,
    settings: input.settings,
    certificates: input.certificates ?? localCertificateAuthority(dataDir),
    changes,
    audit,
  };
  const services = createServices(deps, input.inviteDelivery);
  const auth = new AuthenticationService(
    db,
    repos,
    new TokenIssuer(keys.tokenSigningKey, input.tokenTtlSeconds),
    secrets,
    // Invites that were not mailed are claimed when their user logs in with a password.
    (user) => services.members.claimUnmailedInvites(user),
    {
      logger: input.logger,
      throttle: new LoginThrottle(input.loginThrottle ?? {}),
      changes,
      rememberedTokens: input.rememberedTokens,
    },
  );
  // Machines' last calls go through the log store's writer when it has one (SQLite's thread).
  const writeAccess = stores?.logStore.writeAccess?.bind(stores.logStore);
  const drain = () => repos.parts.flushAccess(db, writeAccess);
  if (!stores) return { deps, audit, repos, services: { ...services, auth }, close: unshare, drain };
  const tails = new LogTailHub(stores.logStore, stores.logTailBuffer);
  const stored = createStoreBackedServices(deps, {
    logStore: stores.logStore,
    tails,
    blobs: stores.blobs,
    urlSigner: new UrlSigner(keys.tokenSigningKey),
    moduleFileMaxBytes: stores.moduleFileMaxBytes,
    packageUrlTtlSeconds: stores.packageUrlTtlSeconds,
    machineCacheSizes: stores.machineCacheSizes,
    alerts: stores.alerts,
  });
  const flusher = setInterval(() => {
    drain().catch((error: unknown) =>
      input.logger?.warn("writing machines' last calls failed; retrying", { error: String(error) }),
    );
  }, stores.accessFlushMs ?? DEFAULT_ACCESS_FLUSH_MS).unref();
  return {
    deps,
    audit,
    repos,
    services: { ...services, ...stored, auth },
    close: () => {
      clearInterval(flusher);
      tails.close();
      unshare();
    },
    drain,
  };
}

/** The CA in the data directory, made there first if missing (older directories had none). */
function localCertificateAuthority(dataDir: string): CertificateAuthority {
  CertificateAuthority.ensureIn(dataDir);
  return CertificateAuthority.loadFrom(dataDir);
}

/** The audit log's name for an object a write reported (restart flags and the registry as a whole are not objects). */
function auditResourceOf(key: ChangeKey): AuditResource[] {
  const [kind = '', id = ''] = key.split(/:(.*)/s);
  const type = {
    part: 'part',
    machine: 'robot',
    location: 'location',
    organization: 'organization',
    fragment: 'fragment',
    'api-key': 'api-key',
    user: 'user',
  }[kind];
  return type && id ? [{ type, id }] : [];
}
