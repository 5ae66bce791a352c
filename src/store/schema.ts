import type { Generated, Selectable } from 'kysely';
import type { IdentityType, ResourceType, RoleName } from '../domain/roles.js';

export type { IdentityType, ResourceType, RoleName };

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

export interface RobotTable {
  id: string;
  location_id: string;
  name: string;
  metadata: string;
  created_at: string;
}

export interface RobotPartTable {
  id: string;
  robot_id: string;
  location_id: string;
  name: string;
  dns_name: string;
  /** 1 for the machine's main part, else 0. */
  main_part: number;
  /** The part's JSON config. */
  config: string;
  metadata: string;
  /** 1 while a restart is requested and the part has not been told yet. */
  restart_requested: number;
  last_access: string | null;
  /** JSON of the AgentInfo the part last sent with Config. */
  agent_info: string | null;
  created_at: string;
  updated_at: string;
}

export interface PartSecretTable {
  id: string;
  part_id: string;
  secret_ciphertext: string;
  created_at: string;
}

export type EditorType = 'user' | 'api-key' | 'robot-part';

export interface PartHistoryTable {
  id: string;
  part_id: string;
  robot_id: string;
  /** JSON snapshot of the part before the change (name, config, main flag, times). */
  old_part: string;
  edited_at: string;
  editor_type: EditorType;
  /** The editor's key id, email or part id. */
  editor_id: string;
}

export interface PartLogTable {
  seq: Generated<number>;
  part_id: string;
  host: string;
  level: string;
  /**
   * Microseconds since the Unix epoch, a 64-bit integer. Bound as a bigint; PostgreSQL's driver
   * reads int8 as a number here (database.ts), so the log store reads it as text.
   */
  time_us: bigint;
  logger_name: string;
  message: string;
  caller: string | null;
  stack: string;
  fields: string;
}

export type FragmentVisibility = 'private' | 'public' | 'public_unlisted';

export interface FragmentTable {
  id: string;
  organization_id: string;
  name: string;
  visibility: FragmentVisibility;
  /** The latest revision number. */
  revision: number;
  /** The latest config (JSON). */
  config: string;
  created_at: string;
  updated_at: string;
}

/** Every saved state of a fragment: revision 1 at creation, one more per update. */
export interface FragmentRevisionTable {
  fragment_id: string;
  revision: number;
  name: string;
  visibility: FragmentVisibility;
  config: string;
  created_at: string;
  editor_type: EditorType;
  editor_id: string;
}

export interface FragmentTagTable {
  fragment_id: string;
  tag: string;
  revision: number;
}

/** A direct use of a fragment by a part's or another fragment's config. */
export interface FragmentUseTable {
  user_type: 'part' | 'fragment';
  user_id: string;
  fragment_id: string;
  /** The version asked for: a revision, a tag, or '' for the latest. */
  version: string;
}

/** A pending invitation of an email address into an organization. */
export interface OrganizationInviteTable {
  id: string;
  organization_id: string;
  /** Lowercased. */
  email: string;
  /** JSON list of `{role, resource_type, resource_id}`, at most one per resource. */
  authorizations: string;
  /** 1 if the invite was meant to be mailed; 0: it is claimed at the user's next login instead. */
  send_email: number;
  /** SHA-256 (hex) of the accept-link token. */
  token_hash: string;
  /** The token, sealed with the server's secret-encryption key (for `flotilla invite-link`). */
  token_ciphertext: string;
  created_at: string;
}

/** A registry item: a module, an ML model, an archive... owned by one organization. */
export interface RegistryItemTable {
  id: string;
  organization_id: string;
  /** Unique in the organization; the public id is `<namespace or organization id>:<name>`. */
  name: string;
  type: string;
  visibility: string;
  description: string;
  url: string;
  /** Modules: the models they provide (JSON list), their entrypoint and first-run script. */
  models: string;
  entrypoint: string;
  first_run: string | null;
  markdown_description: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * A version of a registry item, created by its first upload: for a module, what the module
 * declared then (other packages keep an empty entrypoint and no models).
 */
export interface ModuleVersionTable {
  item_id: string;
  version: string;
  models: string;
  entrypoint: string;
  first_run: string | null;
  created_at: string;
}

/**
 * An uploaded file of a registry item (a module or another package): one per item, version and
 * platform; `id` names its blob.
 */
export interface ModuleFileTable {
  id: string;
  item_id: string;
  version: string;
  platform: string;
  /** JSON list of platform tags. */
  platform_tags: string;
  size_bytes: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  /** CRC-32C of the bytes (unsigned); null for files uploaded before it was recorded. */
  crc32c: number | null;
  uploaded_at: string;
}

/**
 * A stored blob (PostgreSQL blob store): an upload under a fresh `id`, visible under `key` only
 * once committed. Uploads cut short keep `key` and `committed_at` null until removed.
 */
export interface BlobTable {
  id: string;
  key: string | null;
  /** Total bytes; set at commit. */
  size: number;
  /** Bytes per chunk row (every chunk but the last is full). */
  chunk_size: number;
  created_at: string;
  committed_at: string | null;
}

/** Chunk `n` (from 0) of a blob's bytes. */
export interface BlobChunkTable {
  blob_id: string;
  n: number;
  data: Buffer;
}

export interface Database {
  users: UserTable;
  organizations: OrganizationTable;
  locations: LocationTable;
  location_shares: LocationShareTable;
  location_secrets: LocationSecretTable;
  api_keys: ApiKeyTable;
  authorizations: AuthorizationTable;
  robots: RobotTable;
  robot_parts: RobotPartTable;
  part_secrets: PartSecretTable;
  part_history: PartHistoryTable;
  part_logs: PartLogTable;
  fragments: FragmentTable;
  fragment_revisions: FragmentRevisionTable;
  fragment_tags: FragmentTagTable;
  fragment_uses: FragmentUseTable;
  organization_invites: OrganizationInviteTable;
  registry_items: RegistryItemTable;
  module_versions: ModuleVersionTable;
  module_files: ModuleFileTable;
  blobs: BlobTable;
  blob_chunks: BlobChunkTable;
  server_settings: ServerSettingTable;
  organization_webhook_secrets: OrganizationWebhookSecretTable;
  part_alert_states: PartAlertStateTable;
  alert_throttles: AlertThrottleTable;
  alert_deliveries: AlertDeliveryTable;
  alert_attempts: AlertAttemptTable;
  audit_events: AuditEventTable;
  audit_event_resources: AuditEventResourceTable;
}

/** One accepted change: who, when, through which method, what it touched (JSON), and how (JSON). */
export interface AuditEventTable {
  seq: Generated<number>;
  id: string;
  organization_id: string | null;
  at: string;
  principal_kind: string;
  principal_id: string;
  principal_name: string;
  service: string;
  method: string;
  resources: string;
  changes: string | null;
}

/** A resource an audit event touched, for finding events by resource id. */
export interface AuditEventResourceTable {
  event_seq: number;
  resource_type: string;
  resource_id: string;
}

/** Facts about the installation itself, by name (the server keys' fingerprint). */
export interface ServerSettingTable {
  name: string;
  value: string;
}

/** An organization's webhook signing secret, sealed with the server's secret-encryption key. */
export interface OrganizationWebhookSecretTable {
  organization_id: string;
  secret_ciphertext: string;
  created_at: string;
}

/** The online state last recorded for a part watched by part_online / part_offline triggers. */
export interface PartAlertStateTable {
  part_id: string;
  state: 'online' | 'offline';
  changed_at: string;
}

/** When a notification of a part's trigger last fired (`channel`: `<type>:<target>`). */
export interface AlertThrottleTable {
  part_id: string;
  trigger_name: string;
  channel: string;
  last_fired_at: string;
}

export type AlertDeliveryStatus = 'pending' | 'sending' | 'delivered' | 'failed';

/** The alert outbox: one notification of one event, sent (and retried) by the dispatcher. */
export interface AlertDeliveryTable {
  id: string;
  organization_id: string;
  part_id: string;
  event_type: string;
  trigger_name: string;
  notification_type: string;
  /** The webhook URL or email address. */
  target: string;
  /** The JSON body, exactly as sent. */
  payload: string;
  status: AlertDeliveryStatus;
  attempts: number;
  created_at: string;
  next_attempt_at: string;
  /** No retry is scheduled after this time. */
  give_up_at: string;
  /** The claim that holds it while `status` is `sending`, until `lease_until`. */
  lease_owner: string | null;
  lease_until: string | null;
  finished_at: string | null;
  last_error: string | null;
}

/** One try at sending a delivery. */
export interface AlertAttemptTable {
  id: string;
  delivery_id: string;
  attempt: number;
  attempted_at: string;
  /** `delivered` or `failed`. */
  outcome: string;
  http_status: number | null;
  error: string | null;
  duration_ms: number;
}

export type UserRow = Selectable<UserTable>;
export type OrganizationRow = Selectable<OrganizationTable>;
export type LocationRow = Selectable<LocationTable>;
export type LocationSecretRow = Selectable<LocationSecretTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type AuthorizationRow = Selectable<AuthorizationTable>;
export type RobotRow = Selectable<RobotTable>;
export type RobotPartRow = Selectable<RobotPartTable>;
export type PartSecretRow = Selectable<PartSecretTable>;
export type PartHistoryRow = Selectable<PartHistoryTable>;
export type FragmentRow = Selectable<FragmentTable>;
export type FragmentRevisionRow = Selectable<FragmentRevisionTable>;
export type FragmentTagRow = Selectable<FragmentTagTable>;
export type FragmentUseRow = Selectable<FragmentUseTable>;
export type OrganizationInviteRow = Selectable<OrganizationInviteTable>;
export type RegistryItemRow = Selectable<RegistryItemTable>;
export type ModuleVersionRow = Selectable<ModuleVersionTable>;
export type ModuleFileRow = Selectable<ModuleFileTable>;
export type BlobRow = Selectable<BlobTable>;
export type BlobChunkRow = Selectable<BlobChunkTable>;
export type AlertDeliveryRow = Selectable<AlertDeliveryTable>;
export type AlertAttemptRow = Selectable<AlertAttemptTable>;
