import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { forEachDialect } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

forEachDialect('health endpoints and authentication', (newDatabase) => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(await newDatabase());
  });
  after(() => t.stop());

  it('answers /healthz and /readyz', async () => {
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
  });

  it('lists the organization created by init through the SDK', async () => {
    const client = await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey);
    const orgs = await client.appClient.listOrganizations();
    assert.deepEqual(
      orgs.map((o) => [o.id, o.name]),
      [[t.admin.organizationId, 'Org A']],
    );
  });
});
