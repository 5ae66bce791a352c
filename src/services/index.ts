import type { UrlSigner } from '../crypto/url-signer.js';
import { discardInvites, type InviteDelivery } from '../mail/invite-mailer.js';
import type { BlobStore } from '../store/blob-store.js';
import type { PartLogStore } from '../store/part-log-store.js';
import { AlertService, type AlertOptions } from './alert-service.js';
import { ApiKeyService } from './api-key-service.js';
import type { AuthenticationService } from './authentication-service.js';
import type { ServiceDeps } from './context.js';
import { FragmentResolver } from './fragment-resolver.js';
import { FragmentService } from './fragment-service.js';
import { LocationService } from './location-service.js';
import type { LogTailHub } from './log-tail-hub.js';
import { MachineAgentService, type MachineCacheSizes } from './machine-agent-service.js';
import { MachineService } from './machine-service.js';
import { MemberService } from './member-service.js';
import { MetadataService } from './metadata-service.js';
import { ModuleFileService } from './module-file-service.js';
import { OrganizationService } from './organization-service.js';
import { PackageService } from './package-service.js';
import { PartLogService } from './part-log-service.js';
import { AuditService } from './audit-service.js';
import { PartService } from './part-service.js';
import { ProvisioningService } from './provisioning-service.js';
import { RegistryService } from './registry-service.js';
import { RoleService } from './role-service.js';

/** Every use-case service over the database alone, built once from the same dependencies. */
export interface Services {
  organizations: OrganizationService;
  locations: LocationService;
  apiKeys: ApiKeyService;
  metadata: MetadataService;
  machines: MachineService;
  parts: PartService;
  provisioning: ProvisioningService;
  fragments: FragmentService;
  roles: RoleService;
  members: MemberService;
  audit: AuditService;
}

/** The services that also need what only `serve` opens: the log store and the blob store. */
export interface StoreBackedServices {
  partLogs: PartLogService;
  registry: RegistryService;
  moduleFiles: ModuleFileService;
  packages: PackageService;
  /** What a part asks for itself through RobotService; resolves registry modules through packages. */
  machineAgent: MachineAgentService;
  /** Machine alerts: triggers, the outbox and its dispatcher, deliveries and webhook secrets. */
  alerts: AlertService;
}

/** What the store-backed services are built from, beside ServiceDeps. */
export interface StoreBackedDeps {
  logStore: PartLogStore;
  /** The live tails over the log store's feed. */
  tails: LogTailHub;
  blobs: BlobStore;
  /** Signs package download URLs. */
  urlSigner: UrlSigner;
  /** Largest module file or package accepted, in bytes. */
  moduleFileMaxBytes: number;
  /** How long a signed package download URL stays valid, in seconds. */
  packageUrlTtlSeconds: number;
  /** Entries the machine-facing caches keep; zero turns a cache off. */
  machineCacheSizes?: MachineCacheSizes | undefined;
  /** Machine alert settings, the alert mailer and the logger; defaults without. */
  alerts?: AlertOptions | undefined;
}

/** Every service the server serves, in one object: what `src/rpc/routes.ts` is built from. */
export interface ServedServices extends Services, StoreBackedServices {
  auth: AuthenticationService;
}

/** `inviteDelivery` mails or logs invite links; by default (the CLI) they are dropped. */
export function createServices(deps: ServiceDeps, inviteDelivery: InviteDelivery = discardInvites): Services {
  const resolver = new FragmentResolver(deps.repos);
  const parts = new PartService(deps, resolver);
  return {
    organizations: new OrganizationService(deps),
    locations: new LocationService(deps),
    apiKeys: new ApiKeyService(deps),
    metadata: new MetadataService(deps),
    machines: new MachineService(deps, parts),
    parts,
    provisioning: new ProvisioningService(deps),
    fragments: new FragmentService(deps, resolver),
    roles: new RoleService(deps),
    members: new MemberService(deps, inviteDelivery),
    audit: new AuditService(deps),
  };
}

/** The services over the log store and the blob store, from the same ServiceDeps. */
export function createStoreBackedServices(deps: ServiceDeps, stores: StoreBackedDeps): StoreBackedServices {
  const registry = new RegistryService(deps, stores.blobs);
  const packages = new PackageService(deps, stores.blobs, stores.urlSigner, {
    maxFileBytes: stores.moduleFileMaxBytes,
    urlTtlSeconds: stores.packageUrlTtlSeconds,
  });
  const alerts = new AlertService(deps, new FragmentResolver(deps.repos), {
    cacheEntries: stores.machineCacheSizes?.configs,
    ...stores.alerts,
  });
  return {
    alerts,
    partLogs: new PartLogService(deps, stores.logStore, stores.tails, alerts),
    registry,
    moduleFiles: new ModuleFileService(deps, stores.blobs, registry, stores.moduleFileMaxBytes),
    packages,
    machineAgent: new MachineAgentService(
      deps,
      new FragmentResolver(deps.repos),
      packages,
      deps.changes,
      stores.machineCacheSizes,
    ),
  };
}
