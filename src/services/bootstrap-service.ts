import type { Kysely } from 'kysely';
import { hashPassword } from '../crypto/hashing.js';
import { newId } from '../domain/ids.js';
import { nowIso } from '../store/db.js';
import type { Database } from '../store/schema.js';
import type { Services } from './index.js';
import type { Repositories } from '../store/index.js';
import type { UserRecord } from '../store/records.js';

export interface BootstrapInput {
  email: string;
  organizationName: string;
  password: string | undefined;
}

export interface BootstrapResult {
  userId: string;
  organizationId: string;
  apiKeyId: string;
  apiKey: string;
}

/**
 * The first user, their organization and an owner API key, in one transaction: what
 * `flotilla init` creates on a fresh data directory.
 */
export async function bootstrap(
  db: Kysely<Database>,
  repos: Repositories,
  services: Services,
  input: BootstrapInput,
): Promise<BootstrapResult> {
  const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
  return db.transaction().execute(async (trx) => {
    const user: UserRecord = { id: newId(), email: input.email, passwordHash, createdAt: nowIso() };
    await repos.users.create(trx, user);
    const org = await services.organizations.createIn(
      trx,
      { kind: 'user', id: user.id, email: user.email },
      input.organizationName,
    );
    const key = await services.apiKeys.insertKey(trx, org.id, 'flotilla init', [
      { organizationId: org.id, role: 'owner', resourceType: 'organization', resourceId: org.id },
    ]);
    return { userId: user.id, organizationId: org.id, apiKeyId: key.id, apiKey: key.key };
  });
}
