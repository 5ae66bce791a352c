import type { Db } from './db.js';
import type { NewPartLog, PartLogRow } from './schema.js';

/** Log entries pushed by machine parts. */
export class PartLogRepository {
  async append(db: Db, entries: readonly NewPartLog[]): Promise<void> {
    if (entries.length === 0) return;
    await db
      .insertInto('part_logs')
      .values([...entries])
      .execute();
  }

  /** The newest entries of a part: time descending, then arrival descending. */
  listNewest(db: Db, partId: string, limit: number): Promise<PartLogRow[]> {
    return db
      .selectFrom('part_logs')
      .selectAll()
      .where('part_id', '=', partId)
      .orderBy('time', 'desc')
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
  }
}
