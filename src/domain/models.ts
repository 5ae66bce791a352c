/** The objects services hand to adapters (RPC handlers, the CLI). Times are Date objects. */

export interface Organization {
  id: string;
  name: string;
  createdOn: Date;
  publicNamespace: string;
  region: string;
  cid: string | undefined;
}

export interface SharedSecret {
  id: string;
  secret: string;
  createdOn: Date;
}

export interface LocationAuth {
  locationId: string;
  secrets: SharedSecret[];
}

export interface Location {
  id: string;
  name: string;
  parentLocationId: string;
  createdOn: Date;
  region: string;
  primaryOrganization: { id: string; name: string };
  /** Organizations it is shared with, the primary first. */
  organizations: { organizationId: string; primary: boolean }[];
  robotCount: number;
  /** Present only for callers allowed to read location secrets. */
  auth: LocationAuth | undefined;
}

export interface AuthorizationGrant {
  role: 'owner' | 'operator';
  resourceType: 'organization' | 'location' | 'robot';
  resourceId: string;
  organizationId: string;
  identityId: string;
  identityType: 'user' | 'api-key';
}

export interface ApiKey {
  id: string;
  name: string;
  createdOn: Date;
  organizationId: string;
  authorizations: AuthorizationGrant[];
}

/** A key together with its value, returned once: at creation or rotation. */
export interface IssuedApiKey {
  id: string;
  key: string;
}
