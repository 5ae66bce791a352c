import type { Migration } from 'kysely/migration';
import * as foundation from './20261125000000_foundation.js';
import * as machines from './20261125120000_machines.js';
import * as fragments from './20261125180000_fragments.js';
import * as invites from './20261126000000_invites.js';
import * as logTimes from './20261126090000_log_times.js';
import * as registry from './20261127000000_registry.js';
import * as packageChecksums from './20261205000000_package_checksums.js';
import * as blobs from './20261206000000_blobs.js';
import * as serverSettings from './20261206010000_server_settings.js';
import * as audit from './20261206020000_audit.js';
import * as alerts from './20261206030000_alerts.js';

/**
 * Every migration, by its timestamped name. Listed here rather than read from the folder so the
 * compiled build and the TypeScript sources run the same set in the same order.
 */
export const migrations: Record<string, Migration> = {
  '20261125000000_foundation': foundation,
  '20261125120000_machines': machines,
  '20261125180000_fragments': fragments,
  '20261126000000_invites': invites,
  '20261126090000_log_times': logTimes,
  '20261127000000_registry': registry,
  '20261205000000_package_checksums': packageChecksums,
  '20261206000000_blobs': blobs,
  '20261206010000_server_settings': serverSettings,
  '20261206020000_audit': audit,
  '20261206030000_alerts': alerts,
};
