import type { OnlineState } from './online-state.js';
import type { ModuleModel, RegistryItemStatus, RegistryItemType, RegistryVisibility } from './registry.js';

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

export interface Machine {
  id: string;
  name: string;
  locationId: string;
  createdOn: Date;
  /** The latest call any of its parts made to RobotService. */
  lastAccess: Date | undefined;
  onlineState: OnlineState;
  secondsSinceOnline: number;
}

/** What a part's agent (viam-server) said about itself with its last Config call. */
export interface AgentInfo {
  host: string;
  os: string;
  ips: string[];
  version: string;
  gitRevision: string;
  platform: string | undefined;
}

export interface MachinePart {
  id: string;
  name: string;
  dnsName: string;
  machineId: string;
  locationId: string;
  mainPart: boolean;
  fqdn: string;
  localFqdn: string;
  createdOn: Date;
  lastUpdated: Date;
  lastAccess: Date | undefined;
  onlineState: OnlineState;
  secondsSinceOnline: number;
  agentInfo: AgentInfo | undefined;
  /** The JSON config; undefined for callers without read_robot_config. */
  config: Record<string, unknown> | undefined;
  /** Active secrets; undefined for callers without read_robot_secret. */
  secrets: SharedSecret[] | undefined;
}

/** Who made a change. */
export interface Editor {
  type: 'user' | 'api-key' | 'robot-part';
  /** A user's email, an API key's id, a part's id. */
  id: string;
}

export interface PartHistoryEntry {
  partId: string;
  machineId: string;
  when: Date;
  old: MachinePart;
  editor: Editor;
}

export interface LogEntry {
  host: string;
  level: string;
  /**
   * Microseconds since the Unix epoch (machines send nanoseconds; microseconds are kept). A
   * bigint: Timestamp's range (years 1 to 9999) needs more than the 53 bits a number holds.
   */
  timeUs: bigint;
  loggerName: string;
  message: string;
  caller: Record<string, unknown> | undefined;
  stack: string;
  fields: Record<string, unknown>[];
}

/** An entry as a machine pushes it: the time may be missing (the server stamps it). */
export type PushedLogEntry = Omit<LogEntry, 'timeUs'> & { timeUs: bigint | undefined };

export interface MachineSummary {
  machine: Machine;
  parts: MachinePart[];
}

export interface LocationSummary {
  locationId: string;
  locationName: string;
  machines: MachineSummary[];
}

export type FragmentVisibility = 'private' | 'public' | 'public_unlisted';

export interface Fragment {
  id: string;
  name: string;
  config: Record<string, unknown>;
  organizationId: string;
  organizationName: string;
  visibility: FragmentVisibility;
  createdOn: Date;
  lastUpdated: Date;
  /** The revision shown: the latest, or the one asked for. */
  revision: string;
  /** Parts that list it directly, and how many organizations those parts belong to. */
  robotPartCount: number;
  organizationCount: number;
  onlyUsedByOwner: boolean;
}

export interface FragmentHistoryEntry {
  fragmentId: string;
  editedOn: Date;
  /** The fragment as it was before the edit. */
  old: Fragment;
  editor: Editor;
}

export interface FragmentUsage {
  fragmentId: string;
  /** The version parts ask for; the latest revision's number when they ask for the latest. */
  version: string;
  organizations: number;
  machines: number;
  machinesInCurrentOrg: number;
}

/** One uploaded build of a module version, for one platform. */
export interface ModuleFile {
  platform: string;
  sizeBytes: number;
  /** SHA-256 of the bytes, lowercase hex. */
  sha256: string;
  uploadedAt: Date;
}

/** A module version: what the module declared when its first file was uploaded, and its files. */
export interface ModuleVersion {
  version: string;
  models: ModuleModel[];
  entrypoint: string;
  firstRun: string | undefined;
  /** Ordered by platform. */
  files: ModuleFile[];
}

/** A registry item (a module, an ML model, ...), with its versions when it is a module. */
export interface RegistryItem {
  /** `<namespace>:<name>`, or `<organization id>:<name>` while the organization has no namespace. */
  itemId: string;
  organizationId: string;
  publicNamespace: string;
  name: string;
  type: RegistryItemType;
  visibility: RegistryVisibility;
  status: RegistryItemStatus;
  url: string;
  description: string;
  models: ModuleModel[];
  entrypoint: string;
  firstRun: string | undefined;
  markdownDescription: string | undefined;
  /** Ascending semver order. */
  versions: ModuleVersion[];
  createdAt: Date;
  updatedAt: Date;
}
