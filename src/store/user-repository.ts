import type { ChangeTracker } from './change-tracker.js';
import type { Db } from './db.js';
import type { UserRecord } from './records.js';
import type { UserRow } from './schema.js';

/** Row to record: the one place a user row is read. */
const toUserRecord = (row: UserRow): UserRecord => ({
  id: row.id,
  email: row.email,
  passwordHash: row.password_hash ?? undefined,
  createdAt: row.created_at,
});

/** Users: people who log in with an email. */
export class UserRepository {
  constructor(private readonly changes: ChangeTracker) {}

  async create(db: Db, user: UserRecord): Promise<void> {
    await db
      .insertInto('users')
      .values({
        id: user.id,
        email: user.email,
        password_hash: user.passwordHash ?? null,
        created_at: user.createdAt,
      })
      .execute();
  }

  async findById(db: Db, id: string): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUserRecord(row);
  }

  async findByEmail(db: Db, email: string): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    return row && toUserRecord(row);
  }

  /** The users with these ids (a member list shows their emails, never their password hashes). */
  async listByIds(db: Db, ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    return rows.map(toUserRecord);
  }

  /** Sets the password of a user who has none yet (one made by `flotilla init` without one). */
  async setPasswordIfUnset(db: Db, userId: string, passwordHash: string): Promise<void> {
    await db
      .updateTable('users')
      .set({ password_hash: passwordHash })
      .where('id', '=', userId)
      .where('password_hash', 'is', null)
      .execute();
    await this.changes.changed(db, `user:${userId}`);
  }
}
