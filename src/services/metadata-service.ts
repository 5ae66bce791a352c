import type { ResourceRef } from '../authz/authorizer.js';
import type { Permission } from '../authz/permissions.js';
import type { FleetPrincipal } from '../authz/principal.js';
import { notFound } from '../domain/errors.js';
import { requireId, serializeMetadata } from '../domain/validation.js';
import type { Db } from '../store/db.js';
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
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, await this.resourceOf(db, holder, id), PERMISSION[holder]);
    const stored = await repos.metadata.get(db, holder, id);
    if (stored === undefined) throw notFound(`${holder} not found`);
    return JSON.parse(stored) as Record<string, unknown>;
  }

  /** Replaces the whole document. */
  async update(
    principal: FleetPrincipal,
    holder: MetadataHolder,
    rawId: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    const id = requireId(rawId, `${holder}_id`);
    const metadata = serializeMetadata(data);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(
        trx,
        principal,
        await this.resourceOf(trx, holder, id),
        PERMISSION[holder],
      );
      await this.deps.repos.metadata.set(trx, holder, id, metadata);
    });
  }

  /** The resource whose roles govern the holder: a part's are its machine's. */
  private async resourceOf(db: Db, holder: MetadataHolder, id: string): Promise<ResourceRef> {
    if (holder !== 'part') return { type: holder, id };
    const part = await this.deps.repos.parts.findById(db, id);
    if (!part) throw notFound('part not found');
    return { type: 'robot', id: part.robot_id };
  }
}
