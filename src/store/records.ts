import type { ModuleModel, RegistryItemType, RegistryVisibility } from '../domain/registry.js';
import type { IdentityType, ResourceType, RoleName } from '../domain/roles.js';
import type { EditorType, FragmentVisibility } from './schema.js';

/**
 * What repositories hand to services and take from them: one record per stored object, in the
 * domain's terms. Names are camelCase, flags are booleans, JSON documents are parsed values,
 * missing values are `undefined`. Times stay ISO-8601 UTC strings (what both dialects store),
 * which services compare and order as they are. Each repository maps its rows to these records
 * in one place; no service sees a row, a `0`/`1` flag or JSON text.
 */

export type JsonObject = Record<string, unknown>;

export interface UserRecord {
  id: string;
  email: string;
  /** Undefined until the user has chosen a password (invited, not yet accepted). */
  passwordHash: string | undefined;
  createdAt: string;
}

export interface OrganizationRecord {
  id: string;
  name: string;
  publicNamespace: string | undefined;
  region: string;
  cid: string | undefined;
  createdAt: string;
}

export interface LocationRecord {
  id: string;
  organizationId: string;
  name: string;
  parentLocationId: string | undefined;
  region: string;
  createdAt: string;
}

/** A location's or a part's secret, still sealed with the server's secret-encryption key. */
export interface SealedSecret {
  id: string;
  /** The location or part it belongs to. */
  ownerId: string;
  sealed: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  organizationId: string;
  name: string;
  keyHash: string;
  createdAt: string;
}

/** A role grant: `identityId` holds `role` on the resource, inside `organizationId`. */
export interface RoleGrantRecord {
  id: string;
  organizationId: string;
  identityId: string;
  identityType: IdentityType;
  resourceType: ResourceType;
  resourceId: string;
  role: RoleName;
  createdAt: string;
}

export interface MachineRecord {
  id: string;
  locationId: string;
  name: string;
  createdAt: string;
}

/** What a part's agent (viam-server) said about itself with its last Config call, as stored. */
export type StoredAgentInfo = JsonObject;

export interface PartRecord {
  id: string;
  machineId: string;
  locationId: string;
  name: string;
  dnsName: string;
  mainPart: boolean;
  config: JsonObject;
  /** A restart is requested and the part has not been told yet. */
  restartRequested: boolean;
  lastAccess: string | undefined;
  agentInfo: StoredAgentInfo | undefined;
  createdAt: string;
  updatedAt: string;
}

export interface PartHistoryRecord {
  id: string;
  partId: string;
  machineId: string;
  /** The part as it was before the change. */
  old: PartRecord;
  editedAt: string;
  editorType: EditorType;
  /** The editor's key id, email or part id. */
  editorId: string;
}

export interface FragmentRecord {
  id: string;
  organizationId: string;
  name: string;
  visibility: FragmentVisibility;
  /** The latest revision number. */
  revision: number;
  /** The latest config. */
  config: JsonObject;
  createdAt: string;
  updatedAt: string;
}

/** Every saved state of a fragment: revision 1 at creation, one more per update. */
export interface FragmentRevisionRecord {
  fragmentId: string;
  revision: number;
  name: string;
  visibility: FragmentVisibility;
  config: JsonObject;
  createdAt: string;
  editorType: EditorType;
  editorId: string;
}

export interface FragmentTagRecord {
  fragmentId: string;
  tag: string;
  revision: number;
}

/** A direct use of a fragment by a part's or another fragment's config. */
export interface FragmentUseRecord {
  userType: 'part' | 'fragment';
  userId: string;
  fragmentId: string;
  /** The version asked for: a revision, a tag, or '' for the latest. */
  version: string;
}

/** A role an invite will grant once accepted. */
export interface InvitedRole {
  role: RoleName;
  resourceType: ResourceType;
  resourceId: string;
}

export interface InviteRecord {
  id: string;
  organizationId: string;
  /** Lowercased. */
  email: string;
  roles: InvitedRole[];
  /** The invite was meant to be mailed; else it is claimed at the user's next login. */
  sendEmail: boolean;
  /** SHA-256 (hex) of the accept-link token. */
  tokenHash: string;
  /** The token, sealed with the server's secret-encryption key (for `flotilla invite-link`). */
  sealedToken: string;
  createdAt: string;
}

export interface RegistryItemRecord {
  id: string;
  organizationId: string;
  name: string;
  type: RegistryItemType;
  visibility: RegistryVisibility;
  description: string;
  url: string;
  models: ModuleModel[];
  entrypoint: string;
  firstRun: string | undefined;
  markdownDescription: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** A version of a registry item, created by its first upload (a module's declaration then). */
export interface ItemVersionRecord {
  itemId: string;
  version: string;
  models: ModuleModel[];
  entrypoint: string;
  firstRun: string | undefined;
  createdAt: string;
}

/** An uploaded file of a registry item: one per item, version and platform; `id` names its blob. */
export interface ItemFileRecord {
  id: string;
  itemId: string;
  version: string;
  platform: string;
  platformTags: string[];
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  /** CRC-32C of the bytes (unsigned); undefined for files uploaded before it was recorded. */
  crc32c: number | undefined;
  uploadedAt: string;
}

/** One accepted change, as the audit log keeps it. */
export interface AuditEventRecord {
  /** Orders events (newest first by descending seq); the page token carries it. */
  seq: number;
  id: string;
  organizationId: string | undefined;
  at: string;
  principal: { kind: string; id: string; name: string };
  service: string;
  method: string;
  resources: { type: string; id: string }[];
  changes: JsonObject | undefined;
}
