import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../connection.js';
import type { CliContext } from '../context.js';
import { getJson } from '../http-json.js';
import { targetOption, targetValue } from '../options.js';

/** Most events the server answers in one page. */
const MAX_PAGE = 100;

/** One accepted change, as `GET /api/audit` answers it (and `--json` prints it). */
export interface AuditEvent {
  id: string;
  time: string;
  organization_id: string;
  principal: { kind: string; id: string; name: string };
  method: string;
  service: string;
  resources: { type: string; id: string }[];
  changes: Record<string, unknown> | null;
}

interface AuditPage {
  events: AuditEvent[];
  next_page_token: string;
}

interface AuditListOptions {
  org?: string;
  resource?: string;
  principal?: string;
  method?: string;
  since?: string;
  until?: string;
  limit?: number;
  all?: boolean;
}

const parseLimit = (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_PAGE) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_PAGE}`);
  }
  return n;
};

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `90m`, `24h`, `7d`, `1h30m` in milliseconds; undefined when `value` is not a duration. */
export function durationMs(value: string): number | undefined {
  if (!/^(\d+[smhdw])+$/.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  }
  return total;
}

/** `--since`: a duration before now, or an ISO-8601 time; as ISO-8601. */
export function sinceOf(value: string, now = Date.now()): string {
  const ms = durationMs(value.trim());
  if (ms !== undefined) return new Date(now - ms).toISOString();
  return isoTime(value, '--since', 'a duration (30m, 24h, 7d) or an ISO-8601 time (2026-01-15T14:00:00Z)');
}

function isoTime(
  value: string,
  flag: string,
  what = 'an ISO-8601 time, such as 2026-01-15T14:00:00Z',
): string {
  const ms = Date.parse(value.trim());
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be ${what}`);
  return new Date(ms).toISOString();
}

/** Who made a change, as the table shows it: `name (kind)`. */
const who = (e: AuditEvent) => `${e.principal.name || e.principal.id} (${e.principal.kind})`;
const resources = (e: AuditEvent) => e.resources.map((r) => `${r.type}:${r.id}`).join(', ');

export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program
    .command('audit')
    .description("an organization's audit log: every accepted change, who made it (owners only)");

  const list = audit
    .command('list')
    .description("list an organization's audit events, newest first")
    .option('--org <id>', 'the organization (default: flotilla defaults set-org)');
  targetOption(list, 'organization', 'the same as --org')
    .option('--resource <id>', 'only changes to this resource (an organization, location, machine, key…)')
    .option('--principal <id>', 'only changes made by this user, API key or part')
    .option('--method <name>', 'only changes made with this method, such as UpdateRobotPart')
    .option('--since <when>', 'only changes at or after this time: a duration ago (30m, 24h, 7d) or ISO-8601')
    .option('--until <time>', 'only changes before this ISO-8601 time')
    .addOption(
      new Option('--limit <n>', `events per page, 1 to ${MAX_PAGE} (default: the server's, 50)`).argParser(
        parseLimit,
      ),
    )
    .option('--all', 'follow the pages to the oldest event, not just the first page')
    .action(async (options: AuditListOptions & Record<string, unknown>, command: Command) => {
      const organizationId = await ctx.organizationId(options.org ?? targetValue(options, 'organization'));
      const query = new URLSearchParams({ organization_id: organizationId });
      if (options.resource) query.set('resource_id', options.resource);
      if (options.principal) query.set('principal_id', options.principal);
      if (options.method) query.set('method', options.method);
      if (options.since !== undefined) query.set('start', sinceOf(options.since));
      if (options.until !== undefined) query.set('end', isoTime(options.until, '--until'));
      const limit = options.limit ?? (options.all ? MAX_PAGE : undefined);
      if (limit !== undefined) query.set('limit', String(limit));

      const s = await ctx.session(command);
      const events: AuditEvent[] = [];
      const tokens = new Set<string>();
      let next = '';
      do {
        if (next) query.set('page_token', next);
        const page = await getJson<AuditPage>(s, '/api/audit', query);
        events.push(...page.events);
        next = page.next_page_token;
        if (next && tokens.has(next)) throw new Error('the server answered the same page token twice');
        tokens.add(next);
      } while (options.all && next);

      const output = ctx.output(command);
      output.rows(events, [
        { heading: 'time', value: (e) => e.time },
        { heading: 'who', value: who },
        { heading: 'method', value: (e) => e.method },
        { heading: 'resources', value: resources },
      ]);
      if (next) output.note('older events follow: add --all to list them too');
    });
}
