import type { Kysely } from 'kysely';
import type { Authorizer } from '../authz/authorizer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';

/** What every service is built from: injected by the composition root, never global. */
export interface ServiceDeps {
  db: Kysely<Database>;
  repos: Repositories;
  authz: Authorizer;
  secrets: SecretBox;
}
