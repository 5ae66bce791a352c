import type { Db } from './db.js';
import type { RobotRow } from './schema.js';

/** Machines (robots): a named group of parts in one location. */
export class RobotRepository {
  async create(db: Db, robot: RobotRow): Promise<void> {
    await db.insertInto('robots').values(robot).execute();
  }

  /**
   * Locks the machine's row until the transaction ends, so checks made after it on the machine
   * or its parts (one main part, secret counts, `last_known_update`) still hold when the write
   * lands. A no-op update: the same statement locks on both dialects.
   */
  async lock(db: Db, id: string): Promise<void> {
    await db
      .updateTable('robots')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .execute();
  }

  findById(db: Db, id: string): Promise<RobotRow | undefined> {
    return db.selectFrom('robots').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Machines in these locations, ordered by creation then id. */
  async listInLocations(db: Db, locationIds: readonly string[]): Promise<RobotRow[]> {
    if (locationIds.length === 0) return [];
    return db
      .selectFrom('robots')
      .selectAll()
      .where('location_id', 'in', [...locationIds])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async countInLocation(db: Db, locationId: string): Promise<number> {
    const row = await db
      .selectFrom('robots')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('location_id', '=', locationId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async rename(db: Db, id: string, name: string): Promise<void> {
    await db.updateTable('robots').set({ name }).where('id', '=', id).execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('robots').where('id', '=', id).execute();
  }
}
