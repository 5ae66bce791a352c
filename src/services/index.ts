import { discardInvites, type InviteDelivery } from '../mail/invite-mailer.js';
import { ApiKeyService } from './api-key-service.js';
import type { ServiceDeps } from './context.js';
import { FragmentResolver } from './fragment-resolver.js';
import { FragmentService } from './fragment-service.js';
import { LocationService } from './location-service.js';
import { MachineService } from './machine-service.js';
import { MemberService } from './member-service.js';
import { MetadataService } from './metadata-service.js';
import { OrganizationService } from './organization-service.js';
import { PartService } from './part-service.js';
import { ProvisioningService } from './provisioning-service.js';
import { RoleService } from './role-service.js';

/** Every use-case service, built once from the same dependencies. */
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
  };
}
