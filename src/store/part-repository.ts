import type { Db } from './db.js';
import type { PartHistoryRow, PartSecretRow, RobotPartRow } from './schema.js';

export type PartChanges = Partial<Pick<RobotPartRow, 'name' | 'dns_name' | 'config' | 'updated_at'>>;

/** Machine parts, their secrets and their change history. */
export class PartRepository {
  async create(db: Db, part: RobotPartRow): Promise<void> {
    await db.insertInto('robot_parts').values(part).execute();
  }

  findById(db: Db, id: string): Promise<RobotPartRow | undefined> {
    return db.selectFrom('robot_parts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByNameInLocation(db: Db, locationId: string, name: string): Promise<RobotPartRow | undefined> {
    return db
      .selectFrom('robot_parts')
      .selectAll()
      .where('location_id', '=', locationId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** Parts of these machines: the main part first, then by creation. */
  async listForRobots(db: Db, robotIds: readonly string[]): Promise<RobotPartRow[]> {
    if (robotIds.length === 0) return [];
    return db
      .selectFrom('robot_parts')
      .selectAll()
      .where('robot_id', 'in', [...robotIds])
      .orderBy('main_part', 'desc')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async update(db: Db, id: string, changes: PartChanges): Promise<void> {
    if (Object.keys(changes).length === 0) return;
    await db.updateTable('robot_parts').set(changes).where('id', '=', id).execute();
  }

  /** Makes `partId` the only main part of its machine. */
  async setMain(db: Db, robotId: string, partId: string): Promise<void> {
    await db.updateTable('robot_parts').set({ main_part: 0 }).where('robot_id', '=', robotId).execute();
    await db.updateTable('robot_parts').set({ main_part: 1 }).where('id', '=', partId).execute();
  }

  async requestRestart(db: Db, id: string): Promise<void> {
    await db.updateTable('robot_parts').set({ restart_requested: 1 }).where('id', '=', id).execute();
  }

  /** Clears a pending restart request; true if there was one (so exactly one caller is told). */
  async takeRestartRequest(db: Db, id: string): Promise<boolean> {
    const result = await db
      .updateTable('robot_parts')
      .set({ restart_requested: 0 })
      .where('id', '=', id)
      .where('restart_requested', '=', 1)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async recordAccess(db: Db, id: string, at: string, agentInfo: string | undefined): Promise<void> {
    await db
      .updateTable('robot_parts')
      .set(agentInfo === undefined ? { last_access: at } : { last_access: at, agent_info: agentInfo })
      .where('id', '=', id)
      .execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('robot_parts').where('id', '=', id).execute();
  }

  listSecrets(db: Db, partId: string): Promise<PartSecretRow[]> {
    return db
      .selectFrom('part_secrets')
      .selectAll()
      .where('part_id', '=', partId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async listSecretsForParts(db: Db, partIds: readonly string[]): Promise<PartSecretRow[]> {
    if (partIds.length === 0) return [];
    return db
      .selectFrom('part_secrets')
      .selectAll()
      .where('part_id', 'in', [...partIds])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  findSecret(db: Db, partId: string, secretId: string): Promise<PartSecretRow | undefined> {
    return db
      .selectFrom('part_secrets')
      .selectAll()
      .where('part_id', '=', partId)
      .where('id', '=', secretId)
      .executeTakeFirst();
  }

  async addSecret(db: Db, secret: PartSecretRow): Promise<void> {
    await db.insertInto('part_secrets').values(secret).execute();
  }

  async deleteSecret(db: Db, partId: string, secretId: string): Promise<void> {
    await db.deleteFrom('part_secrets').where('part_id', '=', partId).where('id', '=', secretId).execute();
  }

  async addHistory(db: Db, entry: PartHistoryRow): Promise<void> {
    await db.insertInto('part_history').values(entry).execute();
  }

  /** History of a part, newest first. */
  listHistory(db: Db, partId: string): Promise<PartHistoryRow[]> {
    return db
      .selectFrom('part_history')
      .selectAll()
      .where('part_id', '=', partId)
      .orderBy('edited_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }
}
