import { ApiKeyService } from './api-key-service.js';
import type { ServiceDeps } from './context.js';
import { LocationService } from './location-service.js';
import { MetadataService } from './metadata-service.js';
import { OrganizationService } from './organization-service.js';

/** Every use-case service, built once from the same dependencies. */
export interface Services {
  organizations: OrganizationService;
  locations: LocationService;
  apiKeys: ApiKeyService;
  metadata: MetadataService;
}

export function createServices(deps: ServiceDeps): Services {
  return {
    organizations: new OrganizationService(deps),
    locations: new LocationService(deps),
    apiKeys: new ApiKeyService(deps),
    metadata: new MetadataService(deps),
  };
}
