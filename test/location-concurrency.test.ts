import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { ViamClient } from '@viamrobotics/sdk';
import { forEachDialect } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

/** Settles every call, then counts how many succeeded and which codes the others had. */
async function outcomes(calls: Promise<unknown>[]): Promise<{ ok: number; codes: number[] }> {
  const settled = await Promise.allSettled(calls);
  return {
    ok: settled.filter((s) => s.status === 'fulfilled').length,
    codes: settled
      .flatMap((s) => (s.status === 'rejected' ? [(s.reason as { code: number }).code] : []))
      .sort(),
  };
}

forEachDialect('locations under concurrent changes', (newDatabase) => {
  let t: TestServer;
  let client: ViamClient;
  before(async () => {
    t = await startTestServer(await newDatabase());
    client = await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey);
  });
  after(() => t.stop());

  it('two moves that would make a cycle together: one wins, the other is refused', async () => {
    const app = client.appClient;
    for (let round = 0; round < 5; round++) {
      const a = (await app.createLocation(t.admin.organizationId, `a${round}`))!;
      const b = (await app.createLocation(t.admin.organizationId, `b${round}`))!;
      const result = await outcomes([
        app.updateLocation(a.id, undefined, b.id),
        app.updateLocation(b.id, undefined, a.id),
      ]);
      assert.deepEqual(result, { ok: 1, codes: [3] }, `round ${round}`);
      const [ra, rb] = [(await app.getLocation(a.id))!, (await app.getLocation(b.id))!];
      assert.ok(
        (ra.parentLocationId === b.id && rb.parentLocationId === '') ||
          (rb.parentLocationId === a.id && ra.parentLocationId === ''),
        `round ${round}: exactly one is nested under the other`,
      );
    }
  });

  it('concurrent secret creations never exceed two secrets, and deletions never leave none', async () => {
    const app = client.appClient;
    for (let round = 0; round < 5; round++) {
      const location = (await app.createLocation(t.admin.organizationId, `s${round}`))!;
      const created = await outcomes([
        app.createLocationSecret(location.id),
        app.createLocationSecret(location.id),
        app.createLocationSecret(location.id),
      ]);
      assert.deepEqual(created, { ok: 1, codes: [9, 9] }, `round ${round}: creations`);
      const secrets = (await app.locationAuth(location.id))!.secrets;
      assert.equal(secrets.length, 2);
      const deleted = await outcomes(secrets.map((s) => app.deleteLocationSecret(location.id, s.id)));
      assert.deepEqual(deleted, { ok: 1, codes: [9] }, `round ${round}: deletions`);
      assert.equal((await app.locationAuth(location.id))!.secrets.length, 1);
    }
  });
});
