import type { Db } from './db.js';
import type { UserRow } from './schema.js';

/** Users: people who log in with an email. */
export class UserRepository {
  async create(db: Db, user: UserRow): Promise<void> {
    await db.insertInto('users').values(user).execute();
  }

  findById(db: Db, id: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByEmail(db: Db, email: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }
}
