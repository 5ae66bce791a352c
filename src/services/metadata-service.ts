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
    const { db, repos } = this.deps;
    await this.authorize(db, principal, holder, id);
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
      await this.authorize(trx, principal, holder, id);
      await this.deps.repos.metadata.set(trx, holder, id, metadata);
    });
  }

  /**
   * Checks the holder's permission. A part's roles are its machine's; a part the caller cannot
   * see answers like a part that does not exist.
   */
  private async authorize(
    db: Db,
    principal: FleetPrincipal,
    holder: MetadataHolder,
    id: string,
  ): Promise<void> {
    if (holder !== 'part') {
      await this.deps.authz.require(db, principal, { type: holder, id }, PERMISSION[holder]);
      return;
    }
    const part = await this.deps.repos.parts.findById(db, id);
    if (!part) throw notFound('part not found');
    const machine = { type: 'robot', id: part.robot_id } as const;
    await this.deps.authz.require(db, principal, machine, PERMISSION.part, 'part not found');
  }
}
