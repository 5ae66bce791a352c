import { compactDiff } from '../domain/audit-diff.js';
import type { Permission } from '../authz/permissions.js';
import type { FleetPrincipal } from '../authz/principal.js';
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
  robot: 'write_robot',
  part: 'write_robot',
};

/** User-defined metadata of organizations, locations, machines and parts. */
export class MetadataService {
  constructor(private readonly deps: ServiceDeps) {}

  async get(
    principal: FleetPrincipal,
    holder: MetadataHolder,
    rawId: string,
  ): Promise<Record<string, unknown>> {
    const id = requireId(rawId, `${holder}_id`);
    const { db, repos } = this.deps;
    await this.deps.authz.require(db, principal, { type: holder, id }, PERMISSION[holder]);
    const metadata = await repos.metadata.get(db, holder, id);
    if (metadata === undefined) throw notFound(`${holder} not found`);
    return metadata;
  }

  /** Replaces the whole document. */
  async update(
    principal: FleetPrincipal,
    holder: MetadataHolder,
    rawId: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    const id = requireId(rawId, `${holder}_id`);
    // The size rule, before anything is read; the repository stores the document.
    serializeMetadata(data);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: holder, id }, PERMISSION[holder]);
      const before = await this.deps.repos.metadata.get(trx, holder, id);
      this.deps.audit.noteChanges({ metadata: compactDiff(before ?? {}, data) });
      await this.deps.repos.metadata.set(trx, holder, id, data);
    });
  }
}
