import { ChangeTracker } from './change-tracker.js';
import { AlertRepository } from './alert-repository.js';
import { ApiKeyRepository } from './api-key-repository.js';
import { AuditRepository } from './audit-repository.js';
import { AuthorizationRepository } from './authorization-repository.js';
import { FragmentRepository } from './fragment-repository.js';
import { InviteRepository } from './invite-repository.js';
import { LocationRepository } from './location-repository.js';
import { MetadataRepository } from './metadata-repository.js';
import { OrganizationRepository } from './organization-repository.js';
import { PartRepository } from './part-repository.js';
import { RegistryRepository } from './registry-repository.js';
import { RobotRepository } from './robot-repository.js';
import { ScopeRepository } from './scope-repository.js';
import { UserRepository } from './user-repository.js';

/** Every repository, built once by the composition root. */
export interface Repositories {
  users: UserRepository;
  organizations: OrganizationRepository;
  locations: LocationRepository;
  apiKeys: ApiKeyRepository;
  authorizations: AuthorizationRepository;
  metadata: MetadataRepository;
  robots: RobotRepository;
  parts: PartRepository;
  fragments: FragmentRepository;
  invites: InviteRepository;
  registry: RegistryRepository;
  scopes: ScopeRepository;
  audit: AuditRepository;
  alerts: AlertRepository;
}

/** Every repository; those whose writes the machine-facing caches depend on report them to `changes`. */
export function createRepositories(changes: ChangeTracker = new ChangeTracker()): Repositories {
  return {
    users: new UserRepository(changes),
    organizations: new OrganizationRepository(changes),
    locations: new LocationRepository(changes),
    apiKeys: new ApiKeyRepository(changes),
    authorizations: new AuthorizationRepository(),
    metadata: new MetadataRepository(),
    robots: new RobotRepository(changes),
    parts: new PartRepository(changes),
    fragments: new FragmentRepository(changes),
    invites: new InviteRepository(),
    registry: new RegistryRepository(changes),
    scopes: new ScopeRepository(),
    audit: new AuditRepository(),
    alerts: new AlertRepository(),
  };
}
