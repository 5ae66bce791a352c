import type { Insertable, Selectable } from 'kysely';

/**
 * The database schema, declared once. Timestamps are ISO-8601 UTC strings and JSON documents
 * are text, so SQLite and PostgreSQL store and return the same values.
 */
export interface UserTable {
  id: string;
  email: string;
  password_hash: string | null;
  created_at: string;
}

export interface OrganizationTable {
  id: string;
  name: string;
  public_namespace: string | null;
  region: string;
  cid: string | null;
  metadata: string;
  created_at: string;
}

export interface LocationTable {
  id: string;
  organization_id: string;
  name: string;
  parent_location_id: string | null;
  region: string;
  metadata: string;
  created_at: string;
}

export interface LocationShareTable {
  location_id: string;
  organization_id: string;
  created_at: string;
}

export interface LocationSecretTable {
  id: string;
  location_id: string;
  secret_ciphertext: string;
  created_at: string;
}

export interface ApiKeyTable {
  id: string;
  organization_id: string;
  name: string;
  key_hash: string;
  created_at: string;
}

export type IdentityType = 'user' | 'api-key';
export type ResourceType = 'organization' | 'location' | 'robot';
export type RoleName = 'owner' | 'operator';

/** A role grant: `identity` holds `role` on the resource, inside `organization_id`. */
export interface AuthorizationTable {
  id: string;
  organization_id: string;
  identity_id: string;
  identity_type: IdentityType;
  resource_type: ResourceType;
  resource_id: string;
  role: RoleName;
  created_at: string;
}

export interface Database {
  users: UserTable;
  organizations: OrganizationTable;
  locations: LocationTable;
  location_shares: LocationShareTable;
  location_secrets: LocationSecretTable;
  api_keys: ApiKeyTable;
  authorizations: AuthorizationTable;
}

export type UserRow = Selectable<UserTable>;
export type OrganizationRow = Selectable<OrganizationTable>;
export type LocationRow = Selectable<LocationTable>;
export type LocationSecretRow = Selectable<LocationSecretTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type AuthorizationRow = Selectable<AuthorizationTable>;
export type NewAuthorization = Insertable<AuthorizationTable>;
