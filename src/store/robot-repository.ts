import type { ChangeTracker } from './change-tracker.js';
import type { Db } from './db.js';
import type { MachineRecord } from './records.js';
import type { RobotRow } from './schema.js';

/** Row to record: the one place a machine (robot) row is read. */
const toMachineRecord = (row: RobotRow): MachineRecord => ({
  id: row.id,
  locationId: row.location_id,
  name: row.name,
  createdAt: row.created_at,
});

/** Machines (robots): a named group of parts in one location. */
export class RobotRepository {
  constructor(private readonly changes: ChangeTracker) {}

  /** Inserts a machine with an empty metadata document. */
  async create(db: Db, machine: MachineRecord): Promise<void> {
    await db
      .insertInto('robots')
      .values({
        id: machine.id,
        location_id: machine.locationId,
        name: machine.name,
        metadata: '{}',
        created_at: machine.createdAt,
      })
      .execute();
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

  async findById(db: Db, id: string): Promise<MachineRecord | undefined> {
    const row = await db.selectFrom('robots').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toMachineRecord(row);
  }

  /** Machines in these locations, ordered by creation then id. */
  async listInLocations(db: Db, locationIds: readonly string[]): Promise<MachineRecord[]> {
    if (locationIds.length === 0) return [];
    const rows = await db
      .selectFrom('robots')
      .selectAll()
      .where('location_id', 'in', [...locationIds])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toMachineRecord);
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
    await this.changes.changed(db, `machine:${id}`);
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('robots').where('id', '=', id).execute();
    await this.changes.changed(db, `machine:${id}`);
  }
}
