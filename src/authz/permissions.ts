import type { RoleName } from '../domain/roles.js';

/** Every permission string the API knows (CheckPermissions names them). */
export const ALL_PERMISSIONS = [
  'read_organization',
  'write_organization',
  'read_fragment',
  'write_fragment',
  'read_location',
  'write_location',
  'read_location_secret',
  'read_robot_secret',
  'read_robot',
  'read_robot_config',
  'read_robot_logs',
  'write_robot',
  'control_robot',
  'read_organization_data_management',
  'read_location_data_management',
  'read_robot_data_management',
  'write_organization_data_management',
  'write_location_data_management',
  'write_robot_data_management',
  'read_robot_history',
  'read_mapping_sessions',
  'create_maps',
  'write_private_registry_item',
  'write_public_registry_item',
  'read_private_registry_item',
  'train_models',
  'read_packages',
  'write_packages',
  'delete_packages',
  'configure_database_user',
  'get_database_connection',
  'create_dataset',
  'list_dataset',
  'rename_dataset',
  'delete_dataset',
] as const;

export type Permission = (typeof ALL_PERMISSIONS)[number];

/**
 * What each role may do at the scope it is held on (and everything below it). This is the one
 * table; README.md repeats it for operators.
 */
export const ROLE_PERMISSIONS: Record<RoleName, ReadonlySet<Permission>> = {
  owner: new Set(ALL_PERMISSIONS),
  operator: new Set<Permission>(['read_organization', 'read_location', 'read_robot', 'control_robot']),
};

export const ROLES: readonly RoleName[] = ['owner', 'operator'];
export const isRole = (value: string): value is RoleName => (ROLES as readonly string[]).includes(value);

/** Owners hold both; the table keeps public and private registry writes apart for CheckPermissions. */
export const writePermissionFor = (visibility: string): Permission =>
  visibility === 'private' ? 'write_private_registry_item' : 'write_public_registry_item';
