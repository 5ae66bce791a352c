import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { bearer } from './support/clients.js';
import { expectCode } from './support/expect.js';
import {
  describeWithPostgres,
  startPostgresCluster,
  type PostgresCluster,
} from './support/postgres-cluster.js';
import {
  clientsFor,
  initReplicas,
  newMachine,
  openTail,
  partToken,
  sleep,
  within,
  type OpenTail,
  type ReplicaClients,
  type ReplicaSet,
} from './support/replicas.js';

/*
 * A replica outlives its database: while PostgreSQL is down, calls that need it fail fast with
 * UNAVAILABLE (what clients retry on), /readyz says not ready while /healthz still says alive,
 * and live tails end instead of hanging; once PostgreSQL is back the same process serves again.
 *
 * The replica runs with its machine caches as shipped (on): the Config a machine polled before
 * the outage must not be answered from memory once the replica cannot hear of changes.
 */

/** Every call made while the database is down must end (with its code) within this. */
const CALL_TIMEOUT_MS = 5000;
/** How long the replica may take to serve again once the database is back. */
const RECOVERY_MS = 15_000;
const AGENT_INFO = { host: 'outage-rover', os: 'linux', ips: ['10.0.0.8'], version: '0.60.0' };

const LISTENING_LINE = /^flotilla listening on /gm;

describeWithPostgres('database outage: one replica, its PostgreSQL stopped and started again', () => {
  let cluster: PostgresCluster | undefined;
  let set: ReplicaSet | undefined;
  let r: ReplicaClients;
  let partId: string;
  /** Minted while the database was up. */
  let machineToken: string;
  let pid: number;
  let tail: OpenTail | undefined;

  const listOrganizations = () =>
    within(
      r.app.listOrganizations({}, { ...bearer(r.ownerToken), timeoutMs: CALL_TIMEOUT_MS }),
      CALL_TIMEOUT_MS + 1000,
      'ListOrganizations',
    );
  const config = () =>
    within(
      r.robot.config(
        { id: partId, agentInfo: AGENT_INFO },
        { ...bearer(machineToken), timeoutMs: CALL_TIMEOUT_MS },
      ),
      CALL_TIMEOUT_MS + 1000,
      'Config',
    );
  const status = async (path: string) =>
    (await fetch(`${r.replica.url}${path}`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) })).status;

  before(async () => {
    cluster = await startPostgresCluster();
    set = await initReplicas(cluster.url);
    r = await clientsFor(await set.start('only'), set.init);
    pid = r.replica.pid;
    const m = await newMachine(r.admin, set.init.organization_id, 'Outage Rover');
    partId = m.partId;
    machineToken = await partToken(r.auth, m.partId, m.secret);
  });
  after(async () => {
    tail?.abort();
    r?.close();
    try {
      await set?.close();
    } finally {
      await cluster?.destroy();
    }
  });

  it('serves while the database is up', async () => {
    assert.ok((await listOrganizations()).organizations.length > 0);
    // Twice: the second may be answered from what the replica remembers.
    assert.ok((await config()).config);
    assert.ok((await config()).config);
    assert.equal(await status('/readyz'), 200);
    assert.equal(await status('/healthz'), 200);
  });

  it('with the database down: UNAVAILABLE for API and machine calls, not ready but alive, tails end', async () => {
    tail = await openTail(r.app, r.ownerToken, partId, '');
    await cluster!.stop();

    await expectCode(listOrganizations(), Code.Unavailable);
    await expectCode(config(), Code.Unavailable);
    assert.notEqual(await status('/readyz'), 200, '/readyz while the database is down');
    assert.equal(await status('/healthz'), 200, '/healthz while the database is down');

    const ended = await within(tail.ended, CALL_TIMEOUT_MS, 'the open tail ending');
    assert.ok(ended instanceof ConnectError, `the tail ended with ${String(ended)}`);
    assert.equal(ended.code, Code.Unavailable, `the tail ended with ${ended.message}`);
    assert.ok(r.replica.running(), `the replica exited: ${r.replica.process.stderr()}`);
  });

  it('with the database back: the same process serves again within 15 s', async () => {
    await cluster!.start();
    const deadline = Date.now() + RECOVERY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await listOrganizations();
        await config();
        assert.equal(await status('/readyz'), 200, '/readyz');
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          assert.fail(
            `not serving ${RECOVERY_MS} ms after the database came back (${attempt} tries): ${String(error)}`,
          );
        }
        await sleep(250);
      }
    }
    assert.ok(r.replica.running(), `the replica exited: ${r.replica.process.stderr()}`);
    assert.doesNotThrow(() => process.kill(pid, 0), `process ${pid} is gone`);
    assert.equal(r.replica.process.stdout().match(LISTENING_LINE)?.length, 1, 'the replica started once');
  });
});
