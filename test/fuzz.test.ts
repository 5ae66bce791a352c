import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runFuzz, codeName } from './support/fuzz.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * A seeded, bounded fuzz run against the real server: a few thousand hostile and malformed
 * requests across Connect JSON, gRPC-web and gRPC, for every method of the four services.
 * Nothing may come back INTERNAL or as an HTTP 5xx (those are for Flotilla's own failures), and
 * the server must still answer a normal call afterwards. `npm run fuzz` runs 100,000.
 */

const SEED = 20261205;
const COUNT = 3000;

describe('fuzz: hostile requests get client errors, never INTERNAL', () => {
  let t: TestServer;
  let token: string;

  before(async () => {
    t = await startTestServer({ dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() });
    token = await t.adminToken();
  });
  after(() => t.stop());

  it(`${COUNT} requests (seed ${SEED}): no INTERNAL, no 5xx, and the server still serves`, async () => {
    const { tally, failures } = await runFuzz(t.url, SEED, COUNT, { valid: token });
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, COUNT);
    assert.deepEqual(
      failures
        .slice(0, 5)
        .map(
          (f) =>
            `${f.request.protocol} ${f.request.path} (${f.request.description}): ${f.outcome.httpStatus} ${f.outcome.message}`,
        ),
      [],
      `tally: ${JSON.stringify(Object.fromEntries(tally))}`,
    );
    // The run reached the handlers, not only the front door.
    for (const code of ['ok', 'invalid_argument', 'unauthenticated', 'not_found']) {
      assert.ok((tally.get(code) ?? 0) > 0, `no ${code} in ${JSON.stringify(Object.fromEntries(tally))}`);
    }
    // Alive, and a normal call is served.
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    const list = await fetch(`${t.url}/viam.app.v1.AppService/ListOrganizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{}',
    });
    assert.equal(list.status, 200, await list.text());
    assert.ok(codeName(0) === 'ok');
  });
});
