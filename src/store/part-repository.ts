import type { ChangeTracker } from './change-tracker.js';
import type { Kysely } from 'kysely';
import type { Db } from './db.js';
import { PartAccessLog, type PendingAccess } from './part-access-log.js';
import type { AccessRow } from './part-log-store.js';
import type { PartHistoryRecord, PartRecord, SealedSecret, StoredAgentInfo } from './records.js';
import type { Database, PartHistoryRow, PartSecretRow, RobotPartRow } from './schema.js';

/** What a part update may change; a field left undefined keeps its value. */
export type PartChanges = Partial<Pick<PartRecord, 'name' | 'dnsName' | 'config' | 'updatedAt'>>;

/** A part row without its metadata document (kept apart, see MetadataRepository). */
type PartRow = Omit<RobotPartRow, 'metadata'>;

/** Row to record: the one place a part row is read (history snapshots included). */
const toPartRecord = (row: PartRow): PartRecord => ({
  id: row.id,
  machineId: row.robot_id,
  locationId: row.location_id,
  name: row.name,
  dnsName: row.dns_name,
  mainPart: row.main_part === 1,
  config: JSON.parse(row.config) as PartRecord['config'],
  restartRequested: row.restart_requested === 1,
  lastAccess: row.last_access ?? undefined,
  agentInfo: row.agent_info ? (JSON.parse(row.agent_info) as StoredAgentInfo) : undefined,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Record to row, in the columns' order (the shape history snapshots are stored in). */
const toPartRow = (part: PartRecord): PartRow => ({
  id: part.id,
  robot_id: part.machineId,
  location_id: part.locationId,
  name: part.name,
  dns_name: part.dnsName,
  main_part: part.mainPart ? 1 : 0,
  config: JSON.stringify(part.config),
  restart_requested: part.restartRequested ? 1 : 0,
  last_access: part.lastAccess ?? null,
  agent_info: part.agentInfo === undefined ? null : JSON.stringify(part.agentInfo),
  created_at: part.createdAt,
  updated_at: part.updatedAt,
});

/** Row to record for a part's secret. */
const toSealedSecret = (row: PartSecretRow): SealedSecret => ({
  id: row.id,
  ownerId: row.part_id,
  sealed: row.secret_ciphertext,
  createdAt: row.created_at,
});

/**
 * Row to record for a history entry. `old_part` holds the JSON of the part row as it was (as
 * every version has stored it), read with the same mapping as a live part.
 */
const toPartHistoryRecord = (row: PartHistoryRow): PartHistoryRecord => ({
  id: row.id,
  partId: row.part_id,
  machineId: row.robot_id,
  old: toPartRecord(JSON.parse(row.old_part) as PartRow),
  editedAt: row.edited_at,
  editorType: row.editor_type,
  editorId: row.editor_id,
});

/** Machine parts, their secrets and their change history. */
export class PartRepository {
  constructor(
    private readonly changes: ChangeTracker,
    /** Calls recorded but not written yet; reads overlay them. */
    private readonly accessLog = new PartAccessLog(),
  ) {}

  /** The part with its latest call, written or still pending. */
  private current = (row: PartRow): PartRecord => {
    const part = toPartRecord(row);
    const pending = this.accessLog.pendingFor(part.id);
    if (pending && (part.lastAccess === undefined || pending.at > part.lastAccess)) {
      part.lastAccess = pending.at;
      if (pending.agentInfo !== undefined) part.agentInfo = pending.agentInfo;
    }
    return part;
  };

  /** Inserts a part with an empty metadata document. */
  async create(db: Db, part: PartRecord): Promise<void> {
    await db
      .insertInto('robot_parts')
      .values({ ...toPartRow(part), metadata: '{}' })
      .execute();
    await this.changes.changed(db, `part:${part.id}`);
  }

  async findById(db: Db, id: string): Promise<PartRecord | undefined> {
    const row = await db.selectFrom('robot_parts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && this.current(row);
  }

  async findByNameInLocation(db: Db, locationId: string, name: string): Promise<PartRecord | undefined> {
    const row = await db
      .selectFrom('robot_parts')
      .selectAll()
      .where('location_id', '=', locationId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && this.current(row);
  }

  /** Parts of these machines: the main part first, then by creation. */
  async listForRobots(db: Db, robotIds: readonly string[]): Promise<PartRecord[]> {
    if (robotIds.length === 0) return [];
    const rows = await db
      .selectFrom('robot_parts')
      .selectAll()
      .where('robot_id', 'in', [...robotIds])
      .orderBy('main_part', 'desc')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(this.current);
  }

  async update(db: Db, id: string, changes: PartChanges): Promise<void> {
    const set: Partial<Pick<RobotPartRow, 'name' | 'dns_name' | 'config' | 'updated_at'>> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.dnsName !== undefined) set.dns_name = changes.dnsName;
    if (changes.config !== undefined) set.config = JSON.stringify(changes.config);
    if (changes.updatedAt !== undefined) set.updated_at = changes.updatedAt;
    if (Object.keys(set).length === 0) return;
    await db.updateTable('robot_parts').set(set).where('id', '=', id).execute();
    await this.changes.changed(db, `part:${id}`);
  }

  /** Makes `partId` the only main part of its machine. */
  async setMain(db: Db, robotId: string, partId: string): Promise<void> {
    await db.updateTable('robot_parts').set({ main_part: 0 }).where('robot_id', '=', robotId).execute();
    await db.updateTable('robot_parts').set({ main_part: 1 }).where('id', '=', partId).execute();
  }

  async requestRestart(db: Db, id: string): Promise<void> {
    await db.updateTable('robot_parts').set({ restart_requested: 1 }).where('id', '=', id).execute();
    await this.changes.changed(db, `restart:${id}`);
  }

  /**
   * Clears a pending restart request; true if there was one (so exactly one caller is told). A
   * read first: nearly always there is none, and a write (a lock and a sync) for nothing would
   * cost every machine's first poll.
   */
  async takeRestartRequest(db: Db, id: string): Promise<boolean> {
    const row = await db
      .selectFrom('robot_parts')
      .select('restart_requested')
      .where('id', '=', id)
      .executeTakeFirst();
    if (row?.restart_requested !== 1) return false;
    const result = await db
      .updateTable('robot_parts')
      .set({ restart_requested: 0 })
      .where('id', '=', id)
      .where('restart_requested', '=', 1)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Records that the part called at `at`, and what its agent said about itself if it said
   * anything. Written behind (see PartAccessLog): `flushAccess` writes it.
   */
  recordAccess(id: string, at: string, agentInfo: StoredAgentInfo | undefined): void {
    this.accessLog.record(id, at, agentInfo);
  }

  /** Starts remembering which parts called recently, for `callersWithin` (metrics); off by default. */
  rememberCallers(): void {
    this.accessLog.rememberCallers();
  }

  /** Distinct parts that called in the last `ms` milliseconds, as this process saw them. */
  callersWithin(ms: number): number {
    return this.accessLog.callersWithin(ms);
  }

  /**
   * Writes the calls recorded since the last flush, in batches: through `writer` when given (the
   * SQLite log writer's thread, see PartLogStore.writeAccess), else with this connection.
   */
  flushAccess(db: Kysely<Database>, writer?: (rows: readonly AccessRow[]) => Promise<void>): Promise<void> {
    const row = (id: string, access: PendingAccess): AccessRow => [
      id,
      access.at,
      access.agentInfo === undefined ? null : JSON.stringify(access.agentInfo),
    ];
    return this.accessLog.flush(
      writer
        ? (chunk) => writer(chunk.map(([id, access]) => row(id, access)))
        : (chunk) =>
            db.transaction().execute(async (trx) => {
              for (const [id, access] of chunk) {
                const [, at, agentInfo] = row(id, access);
                await trx
                  .updateTable('robot_parts')
                  .set(agentInfo === null ? { last_access: at } : { last_access: at, agent_info: agentInfo })
                  .where('id', '=', id)
                  .execute();
              }
            }),
    );
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('robot_parts').where('id', '=', id).execute();
    await this.changes.changed(db, `part:${id}`);
  }

  async listSecrets(db: Db, partId: string): Promise<SealedSecret[]> {
    const rows = await db
      .selectFrom('part_secrets')
      .selectAll()
      .where('part_id', '=', partId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toSealedSecret);
  }

  async listSecretsForParts(db: Db, partIds: readonly string[]): Promise<SealedSecret[]> {
    if (partIds.length === 0) return [];
    const rows = await db
      .selectFrom('part_secrets')
      .selectAll()
      .where('part_id', 'in', [...partIds])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toSealedSecret);
  }

  async findSecret(db: Db, partId: string, secretId: string): Promise<SealedSecret | undefined> {
    const row = await db
      .selectFrom('part_secrets')
      .selectAll()
      .where('part_id', '=', partId)
      .where('id', '=', secretId)
      .executeTakeFirst();
    return row && toSealedSecret(row);
  }

  /** Adds a secret; `ownerId` is the part. */
  async addSecret(db: Db, secret: SealedSecret): Promise<void> {
    await db
      .insertInto('part_secrets')
      .values({
        id: secret.id,
        part_id: secret.ownerId,
        secret_ciphertext: secret.sealed,
        created_at: secret.createdAt,
      })
      .execute();
    await this.changes.changed(db, `part:${secret.ownerId}`);
  }

  async deleteSecret(db: Db, partId: string, secretId: string): Promise<void> {
    await db.deleteFrom('part_secrets').where('part_id', '=', partId).where('id', '=', secretId).execute();
    await this.changes.changed(db, `part:${partId}`);
  }

  /** Keeps the part as it was before a change; `old` is stored as the JSON of its row. */
  async addHistory(db: Db, entry: PartHistoryRecord): Promise<void> {
    await db
      .insertInto('part_history')
      .values({
        id: entry.id,
        part_id: entry.partId,
        robot_id: entry.machineId,
        old_part: JSON.stringify(toPartRow(entry.old)),
        edited_at: entry.editedAt,
        editor_type: entry.editorType,
        editor_id: entry.editorId,
      })
      .execute();
  }

  /** History of a part, newest first. */
  async listHistory(db: Db, partId: string): Promise<PartHistoryRecord[]> {
    const rows = await db
      .selectFrom('part_history')
      .selectAll()
      .where('part_id', '=', partId)
      .orderBy('edited_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toPartHistoryRecord);
  }
}
