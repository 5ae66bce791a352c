import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError, createPromiseClient } from '@connectrpc/connect';
import { initializeDataDir } from '../src/cli/init-command.js';
import { inviteLink } from '../src/cli/invite-link-command.js';
import { loadServerConfig } from '../src/config.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { startServer } from '../src/server/create-server.js';
import { createLogger } from '../src/server/logger.js';
import {
  DEFAULT_LOGIN_THROTTLE,
  LoginThrottle,
  sourceKeyOf,
  type LoginAttempt,
  type LoginThrottleSettings,
  type RefusedLogin,
} from '../src/services/login-throttle.js';
import { connectTransport, grpcTransport } from './support/clients.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

// ---------------------------------------------------------------------------------------------
// The rule, with a fake clock.
// ---------------------------------------------------------------------------------------------

/** A throttle on a clock that only moves when told to. */
function fakeThrottle(settings: Partial<LoginThrottleSettings> = {}) {
  let now = 1_000_000;
  const throttle = new LoginThrottle(settings, () => now);
  return { throttle, advance: (ms: number) => (now += ms) };
}

function allowed(result: LoginAttempt | RefusedLogin): LoginAttempt {
  assert.ok(
    result.allowed,
    `expected the attempt to go ahead, refused for ${'retryAfterMs' in result ? result.retryAfterMs : 0} ms`,
  );
  return result;
}

function refusedFor(result: LoginAttempt | RefusedLogin): number {
  assert.ok(!result.allowed, 'expected the attempt to be refused');
  return result.retryAfterMs;
}

/** `n` failed attempts, each allowed. */
function failTimes(throttle: LoginThrottle, n: number, account: string, source?: string): void {
  for (let i = 0; i < n; i++) allowed(throttle.attempt(account, source)).failed();
}

describe('login throttle (rule)', () => {
  const MINUTE = 60_000;

  it('has the documented defaults', () => {
    assert.deepEqual(DEFAULT_LOGIN_THROTTLE, {
      accountFreeFailures: 5,
      sourceFreeFailures: 20,
      baseDelayMs: 1000,
      maxDelayMs: 15 * MINUTE,
      windowMs: 15 * MINUTE,
      maxEntries: 10_000,
    });
  });

  it('allows 5 failures per account, then refuses for 1 s, doubling per failure up to 15 min', () => {
    const { throttle, advance } = fakeThrottle();
    failTimes(throttle, 4, 'a@example.com');
    // The 5th failure is still answered, and it starts the first delay.
    allowed(throttle.attempt('a@example.com', undefined)).failed();
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 1000);
    advance(400);
    assert.equal(
      refusedFor(throttle.attempt('A@Example.com ', undefined)),
      600,
      'case and spaces do not matter',
    );

    const delays: number[] = [];
    for (let i = 0; i < 14; i++) {
      advance(refusedFor(throttle.attempt('a@example.com', undefined)));
      allowed(throttle.attempt('a@example.com', undefined)).failed();
      delays.push(refusedFor(throttle.attempt('a@example.com', undefined)));
    }
    assert.deepEqual(
      delays.map((ms) => ms / 1000),
      [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900],
    );
  });

  it('refused attempts do not count, and do not extend the delay', () => {
    const { throttle, advance } = fakeThrottle();
    failTimes(throttle, 5, 'a@example.com');
    for (let i = 0; i < 100; i++) refusedFor(throttle.attempt('a@example.com', undefined));
    advance(999);
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 1);
    advance(1);
    allowed(throttle.attempt('a@example.com', undefined)).failed();
    assert.equal(
      refusedFor(throttle.attempt('a@example.com', undefined)),
      2000,
      'the 6th failure, not the 106th',
    );
  });

  it('a success resets the account; the next failures start from the beginning', () => {
    const { throttle, advance } = fakeThrottle();
    failTimes(throttle, 5, 'a@example.com', '10.0.0.1');
    advance(1000);
    allowed(throttle.attempt('a@example.com', '10.0.0.1')).failed();
    advance(refusedFor(throttle.attempt('a@example.com', undefined)));
    allowed(throttle.attempt('a@example.com', '10.0.0.1')).succeeded();
    assert.deepEqual(throttle.size, { accounts: 0, sources: 1 }, "the source's failures stay");
    failTimes(throttle, 4, 'a@example.com');
    allowed(throttle.attempt('a@example.com', undefined)).failed();
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 1000);
  });

  it('counts unknown and known emails alike (the throttle never knows which is which)', () => {
    const { throttle } = fakeThrottle();
    failTimes(throttle, 5, 'known@example.com');
    failTimes(throttle, 5, 'nobody@example.com');
    assert.equal(refusedFor(throttle.attempt('known@example.com', undefined)), 1000);
    assert.equal(refusedFor(throttle.attempt('nobody@example.com', undefined)), 1000);
  });

  it('another account, and the same account from anywhere, are judged by their own counters', () => {
    const { throttle } = fakeThrottle();
    failTimes(throttle, 5, 'a@example.com', '10.0.0.1');
    refusedFor(throttle.attempt('a@example.com', '10.0.0.2'));
    allowed(throttle.attempt('b@example.com', '10.0.0.1')).succeeded();
    allowed(throttle.attempt('b@example.com', '10.0.0.2')).succeeded();
  });

  it('allows 20 failures per source across accounts, then refuses every account from it', () => {
    const { throttle, advance } = fakeThrottle();
    for (let i = 0; i < 20; i++) allowed(throttle.attempt(`user${i}@example.com`, '10.0.0.1')).failed();
    assert.equal(refusedFor(throttle.attempt('fresh@example.com', '10.0.0.1')), 1000);
    // From elsewhere the same accounts are fine.
    allowed(throttle.attempt('fresh@example.com', '10.0.0.2')).succeeded();
    // A success from the source does not reset the source (one valid account unlocks nothing).
    advance(1000);
    allowed(throttle.attempt('fresh@example.com', '10.0.0.1')).succeeded();
    allowed(throttle.attempt('user0@example.com', '10.0.0.1')).failed();
    assert.equal(refusedFor(throttle.attempt('fresh@example.com', '10.0.0.1')), 2000);
  });

  it('IPv6 sources are counted by /64, IPv4-mapped ones as IPv4', () => {
    assert.equal(sourceKeyOf('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(sourceKeyOf('10.1.2.3'), '10.1.2.3');
    assert.equal(sourceKeyOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKeyOf('2001:0DB8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(sourceKeyOf('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKeyOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(sourceKeyOf('::1'), '0:0:0:0::/64');

    const { throttle } = fakeThrottle();
    for (let i = 0; i < 20; i++)
      allowed(throttle.attempt(`u${i}@example.com`, `2001:db8:1:2::${i + 1}`)).failed();
    refusedFor(throttle.attempt('x@example.com', '2001:db8:1:2:ffff::9'));
    allowed(throttle.attempt('x@example.com', '2001:db8:1:3::1')).succeeded();
  });

  it('counts attempts in flight, so parallel guesses cannot overtake the counter', () => {
    const { throttle, advance } = fakeThrottle();
    const running = Array.from({ length: 5 }, () => allowed(throttle.attempt('a@example.com', undefined)));
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 1000);
    for (const attempt of running) attempt.failed();
    refusedFor(throttle.attempt('a@example.com', undefined));
    // Past the allowance, one attempt at a time.
    advance(1000);
    const one = allowed(throttle.attempt('a@example.com', undefined));
    refusedFor(throttle.attempt('a@example.com', undefined));
    one.failed();
    // Finishing twice changes nothing.
    one.failed();
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 2000);
  });

  it('forgets a key a window (15 min) after its last failure or the end of its block', () => {
    const { throttle, advance } = fakeThrottle();
    failTimes(throttle, 4, 'a@example.com');
    advance(15 * MINUTE - 1);
    allowed(throttle.attempt('a@example.com', undefined)).failed();
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 1000, 'not yet forgotten');
    advance(1000 + 15 * MINUTE);
    assert.deepEqual(throttle.size, { accounts: 1, sources: 0 });
    failTimes(throttle, 4, 'a@example.com');
    allowed(throttle.attempt('a@example.com', undefined)).failed();
    assert.equal(refusedFor(throttle.attempt('a@example.com', undefined)), 1000, 'starts over');
  });

  it('keeps at most maxEntries keys of each kind, evicting a flood before an account under attack', () => {
    const { throttle, advance } = fakeThrottle({ maxEntries: 1000 });
    failTimes(throttle, 5, 'victim@example.com');
    for (let i = 0; i < 3; i++) {
      advance(refusedFor(throttle.attempt('victim@example.com', undefined)));
      allowed(throttle.attempt('victim@example.com', undefined)).failed();
    }
    assert.equal(refusedFor(throttle.attempt('victim@example.com', undefined)), 8000);
    advance(8000 - 1);
    // An attacker cycling through random emails from random addresses.
    for (let i = 0; i < 50_000; i++) {
      allowed(
        throttle.attempt(`r${i}@example.com`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`),
      ).failed();
      const size = throttle.size;
      assert.ok(size.accounts <= 1000 && size.sources <= 1000, `grew to ${JSON.stringify(size)}`);
    }
    assert.equal(
      refusedFor(throttle.attempt('victim@example.com', undefined)),
      1,
      'the victim is still blocked',
    );
    // Very long emails share a bounded key.
    allowed(throttle.attempt('x'.repeat(1_000_000), undefined)).failed();
    assert.ok(throttle.size.accounts <= 1000);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the real server.
// ---------------------------------------------------------------------------------------------

type AuthClient = ReturnType<typeof createPromiseClient<typeof AuthService>>;

/** A Connect (HTTP/1.1) AuthService client whose connections leave from `localAddress` (127/8 is all loopback). */
const authFrom = (url: string, localAddress: string): AuthClient =>
  createPromiseClient(AuthService, connectTransport(url, { nodeOptions: { localAddress } }));

/** A native gRPC (HTTP/2) AuthService client from `localAddress`. */
const grpcAuthFrom = (url: string, localAddress: string): AuthClient => {
  const { hostname, port } = new URL(url);
  return createPromiseClient(
    AuthService,
    grpcTransport(url, {
      nodeOptions: { createConnection: () => connect({ host: hostname, port: Number(port), localAddress }) },
    }),
  );
};

const login = async (client: AuthClient, email: string, password: string, headers?: Record<string, string>) =>
  (
    await client.authenticate(
      { entity: email, credentials: { type: 'password', payload: password } },
      { headers },
    )
  ).accessToken;

/** Asserts RESOURCE_EXHAUSTED with a retry hint; returns the hinted seconds. */
async function expectThrottled(call: Promise<unknown>): Promise<number> {
  let seconds = NaN;
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.ResourceExhausted, error.message);
    const match = /too many failed logins; retry in (\d+) s/.exec(error.rawMessage);
    assert.ok(match, error.rawMessage);
    seconds = Number(match[1]);
    return true;
  });
  return seconds;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

forEachDialect('login throttle', (newDatabase) => {
  let t: TestServer;
  let db: TestDatabase;
  const bob = { email: 'bob@example.com', password: 'bob has a long password' };

  before(async () => {
    db = await newDatabase();
    t = await startTestServer(db);
    // A second user with a password, through an invite accepted on its page.
    const admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    await admin.createOrganizationInvite(t.admin.organizationId, bob.email, [], false);
    const link = await inviteLink(t.dataDir, t.admin.organizationId, bob.email, {
      FLOTILLA_DATABASE_URL: db.databaseUrl,
      FLOTILLA_PUBLIC_URL: t.url,
    });
    const accepted = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: bob.password }).toString(),
    });
    assert.equal(accepted.status, 200, await accepted.text());
  });
  after(() => t.stop());

  it('refuses an account after 5 wrong passwords while another logs in; after the delay the right one works; a success resets', async () => {
    const attacker = authFrom(t.url, '127.0.0.11');
    const elsewhere = authFrom(t.url, '127.0.0.12');
    for (let i = 0; i < 5; i++) {
      await expectCode(login(attacker, bob.email, `guess ${i}`), Code.Unauthenticated);
    }
    // Refused now, even with the right password, from anywhere.
    assert.equal(await expectThrottled(login(attacker, bob.email, bob.password)), 1);
    assert.equal(await expectThrottled(login(elsewhere, bob.email.toUpperCase(), bob.password)), 1);
    // Another account logs in normally throughout, from another source and from the same one.
    assert.ok(await login(elsewhere, t.admin.email, t.admin.password));
    assert.ok(await login(attacker, t.admin.email, t.admin.password));

    // After the delay one more guess is answered; failing it doubles the delay.
    await sleep(1100);
    await expectCode(login(attacker, bob.email, 'guess 5'), Code.Unauthenticated);
    assert.equal(await expectThrottled(login(attacker, bob.email, bob.password)), 2);
    await sleep(2100);
    assert.ok(await login(elsewhere, bob.email, bob.password), 'the right password works after the delay');

    // The success reset the account: 5 failures again before the (first, 1 s) delay.
    for (let i = 0; i < 5; i++) {
      await expectCode(login(attacker, bob.email, `again ${i}`), Code.Unauthenticated);
    }
    assert.equal(await expectThrottled(login(attacker, bob.email, bob.password)), 1);
    assert.ok(await login(elsewhere, t.admin.email, t.admin.password));
  });

  it('throttles an unknown email exactly like a known one', async () => {
    const client = authFrom(t.url, '127.0.0.13');
    for (const email of ['carol@example.com', 'nobody@example.com']) {
      for (let i = 0; i < 5; i++) await expectCode(login(client, email, `guess ${i}`), Code.Unauthenticated);
      assert.equal(await expectThrottled(login(client, email, 'anything')), 1);
    }
  });

  it('throttles a source by its connection address (HTTP/1.1 and HTTP/2 alike), never by X-Forwarded-For', async () => {
    const h2 = grpcAuthFrom(t.url, '127.0.0.14');
    const h1 = authFrom(t.url, '127.0.0.14');
    for (let i = 0; i < 20; i++) {
      const client = i % 2 ? h1 : h2;
      await expectCode(
        login(client, `spray${i}@example.com`, 'Password1', { 'x-forwarded-for': `10.9.9.${i}` }),
        Code.Unauthenticated,
      );
    }
    // Every account is refused from that address, over either protocol, whatever the header says.
    await expectThrottled(login(h2, t.admin.email, t.admin.password));
    await expectThrottled(login(h1, t.admin.email, t.admin.password, { 'x-forwarded-for': '127.0.0.1' }));
    // From another address (claiming to be the throttled one) the same account logs in.
    const other = authFrom(t.url, '127.0.0.15');
    assert.ok(await login(other, t.admin.email, t.admin.password, { 'x-forwarded-for': '127.0.0.14' }));
    assert.ok(await login(grpcAuthFrom(t.url, '127.0.0.15'), t.admin.email, t.admin.password));
  });

  it('takes as long for an unknown email as for a wrong password of a known one (median ratio)', async (ctx) => {
    const known: number[] = [];
    const unknown: number[] = [];
    const time = async (call: Promise<unknown>) => {
      const start = performance.now();
      await expectCode(call, Code.Unauthenticated);
      return performance.now() - start;
    };
    for (let i = 0; i < 20; i++) {
      // A source of its own per round keeps every source under its allowance; the known account
      // is reset by a right login each round.
      const client = authFrom(t.url, `127.0.1.${i + 1}`);
      await expectCode(
        client.authenticate({ entity: 'warm-up', credentials: { type: 'api-key', payload: 'x' } }),
        Code.Unauthenticated,
      );
      const knownCall = () => time(login(client, t.admin.email, `wrong ${i}`));
      const unknownCall = () => time(login(client, `nobody-${i}@example.com`, `wrong ${i}`));
      if (i % 2) {
        known.push(await knownCall());
        unknown.push(await unknownCall());
      } else {
        unknown.push(await unknownCall());
        known.push(await knownCall());
      }
      assert.ok(await login(client, t.admin.email, t.admin.password));
    }
    const ratio = median(unknown) / median(known);
    ctx.diagnostic(`unknown/known median ratio ${ratio.toFixed(2)}`);
    assert.ok(
      ratio > 0.5 && ratio < 2,
      `unknown/known median ratio ${ratio.toFixed(2)} (unknown ${median(unknown).toFixed(1)} ms, known ${median(known).toFixed(1)} ms)`,
    );
  });
});

describe('login throttle (log)', () => {
  it('logs failed and refused logins at warn level, without the password', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-test-'));
    const lines: string[] = [];
    try {
      await initializeDataDir(dataDir, undefined, {
        email: 'admin@example.com',
        organizationName: 'Org A',
        password: 'correct horse battery staple',
      });
      const server = await startServer(
        loadServerConfig({ dataDir, listen: '127.0.0.1:0' }, {}),
        createLogger('warn', (line) => lines.push(line)),
      );
      try {
        const client = authFrom(server.url, '127.0.0.21');
        const longEmail = `${'x'.repeat(300)}@example.com`;
        for (let i = 0; i < 5; i++)
          await expectCode(login(client, longEmail, `secret-guess-${i}`), Code.Unauthenticated);
        await expectThrottled(login(client, longEmail, 'secret-guess-5'));
        await login(client, 'admin@example.com', 'correct horse battery staple');
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    const entries = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((e) => e.message === 'password login failed');
    assert.equal(entries.length, 6, lines.join(''));
    for (const [i, entry] of entries.entries()) {
      assert.equal(entry.level, 'warn');
      assert.equal(entry.email, 'x'.repeat(128));
      assert.equal(entry.source, '127.0.0.21');
      assert.equal(entry.throttled, i === 5);
    }
    assert.doesNotMatch(lines.join(''), /secret-guess|correct horse/);
  });
});
