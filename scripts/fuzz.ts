// `npm run fuzz [-- COUNT [SEED]]`: the generator of test/fuzz.test.ts, run for 100,000 requests
// (by default) against a fresh server on 127.0.0.1, printing the tally by code and every request
// answered INTERNAL or HTTP 5xx. Exits 1 if there was any.
import { codeName, runFuzz } from '../test/support/fuzz.js';
import { startTestServer } from '../test/support/server.js';

const count = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? 20261205);
const t = await startTestServer({ dialect: 'sqlite', databaseUrl: undefined, drop: () => Promise.resolve() });
try {
  const token = await t.adminToken();
  const started = Date.now();
  const { tally, failures } = await runFuzz(t.url, seed, count, { valid: token });
  const seconds = (Date.now() - started) / 1000;
  console.log(`${count} requests (seed ${seed}) in ${seconds.toFixed(1)} s`);
  for (const [code, n] of [...tally].sort((a, b) => b[1] - a[1]))
    console.log(`${String(n).padStart(8)}  ${code}`);
  for (const f of failures.slice(0, 20)) {
    const status =
      f.outcome.grpcStatus === undefined ? `http ${f.outcome.httpStatus}` : codeName(f.outcome.grpcStatus);
    console.log(
      `FAILURE ${f.request.protocol} ${f.request.path} (${f.request.description}, ${f.request.framing}): ${status} ${f.outcome.message.slice(0, 200)}`,
    );
  }
  console.log(failures.length === 0 ? 'no INTERNAL and no HTTP 5xx' : `${failures.length} server failures`);
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  await t.stop();
}
