import type { Permission } from '../authz/permissions.js';
import type { Principal } from '../authz/principal.js';
import { notFound } from '../domain/errors.js';
import { requireId, serializeMetadata } from '../domain/validation.js';
import type { MetadataHolder } from '../store/metadata-repository.js';
import type { ServiceDeps } from './context.js';

/**
 * Metadata is an owner's business, read and written with the write permission of its holder:
 * operators see no metadata.
 */
const PERMISSION: Record<MetadataHolder, Permission> = {
  organization: 'write_organization',
  location: 'write_location',
};

/** User-defined metadata of organizations and locations. */
export class MetadataService {
  constructor(private readonly deps: ServiceDeps) {}

  async get(principal: Principal, holder: MetadataHolder, rawId: string): Promise<Record<string, unknown>> {
    const id = requireId(rawId, `${holder}_id`);
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, { type: holder, id }, PERMISSION[holder]);
    const stored = await repos.metadata.get(db, holder, id);
    if (stored === undefined) throw notFound(`${holder} not found`);
    return JSON.parse(stored) as Record<string, unknown>;
  }

  /** Replaces the whole document. */
  async update(
    principal: Principal,
    holder: MetadataHolder,
    rawId: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    const id = requireId(rawId, `${holder}_id`);
    const metadata = serializeMetadata(data);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: holder, id }, PERMISSION[holder]);
      await this.deps.repos.metadata.set(trx, holder, id, metadata);
    });
  }
}
