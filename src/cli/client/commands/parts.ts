import { Struct, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { appApi } from '@viamrobotics/sdk';
import type { Command } from 'commander';
import type { Session } from '../connection.js';
import { readJsonObject } from '../json-input.js';
import type { CliContext } from '../context.js';
import { targetOption } from '../options.js';
import { machineNamed, partNamed } from '../resolve.js';
import { ago, isoOf } from '../values.js';
import { logFlags, printLogs } from './logs.js';

type Options = Record<string, unknown>;

const ONLINE_STATES: Record<number, string> = {
  [appApi.OnlineState.ONLINE]: 'online',
  [appApi.OnlineState.OFFLINE]: 'offline',
  [appApi.OnlineState.AWAITING_SETUP]: 'awaiting_setup',
};
const onlineStateOf = (state: appApi.OnlineState) => ONLINE_STATES[state] ?? 'unknown';

const EDITOR_TYPES: Record<number, string> = {
  [appApi.AuthenticationType.WEB_OAUTH]: 'user',
  [appApi.AuthenticationType.API_KEY]: 'api-key',
  [appApi.AuthenticationType.ROBOT_PART_SECRET]: 'robot-part',
  [appApi.AuthenticationType.LOCATION_SECRET]: 'location-secret',
};

/** `--part` / `--machine` (or its alias), required. */
/** Adds `--part` (required, by id or name) and `--organization` (where to look a name up). */
function partFlags(command: Command): Command {
  targetOption(command, 'part', 'the part, by id or name (required)');
  return targetOption(command, 'organization', 'the organization to look names up in');
}

function machineFlags(command: Command): Command {
  targetOption(command, 'machine', 'the machine, by id or name (required)');
  return targetOption(command, 'organization', 'the organization to look names up in');
}

/** `label: value` lines with the values aligned. */
const fieldLines = (fields: readonly (readonly [string, string])[]) => {
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`.trimEnd()).join('\n');
};

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A part's config as plain JSON ({} when it has none). */
function configOf(reply: appApi.GetRobotPartResponse): JsonObject {
  if (reply.configJson !== '') {
    const parsed = JSON.parse(reply.configJson) as unknown;
    if (isObject(parsed)) return parsed;
  }
  return (reply.part?.robotConfig?.toJson() as JsonObject | undefined) ?? {};
}

async function getPart(s: Session, id: string) {
  const reply = await s.app.getRobotPart({ id });
  if (!reply.part) throw new Error(`the server returned no part for ${id}`);
  return { part: reply.part, config: configOf(reply) };
}

/** JSON with object keys sorted: two configs compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** How a top-level value's size reads in a change line: `3 entries`, `2 keys`. */
const sizeOf = (value: JsonValue | undefined) => {
  const n = Array.isArray(value) ? value.length : isObject(value) ? Object.keys(value).length : 0;
  return `${n} ${Array.isArray(value) ? (n === 1 ? 'entry' : 'entries') : n === 1 ? 'key' : 'keys'}`;
};

/** A scalar in a change line, cut short when long. */
const scalarText = (value: JsonValue | undefined) => {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

/** The top-level keys added, removed and changed from `before` to `after`. */
function configChanges(before: JsonObject, after: JsonObject) {
  const added = Object.keys(after).filter((k) => !(k in before));
  const removed = Object.keys(before).filter((k) => !(k in after));
  const changed = Object.keys(after).filter(
    (k) => k in before && canonical(before[k]) !== canonical(after[k]),
  );
  return { added, removed, changed };
}

function changeLines(before: JsonObject, after: JsonObject, c: ReturnType<typeof configChanges>): string[] {
  const sized = (v: JsonValue | undefined) => (Array.isArray(v) || isObject(v) ? ` (${sizeOf(v)})` : '');
  const count = (v: JsonValue | undefined) => (Array.isArray(v) ? v.length : Object.keys(v ?? {}).length);
  return [
    ...c.added.map((k) => `added: ${k}${sized(after[k])}`),
    ...c.removed.map((k) => `removed: ${k}`),
    ...c.changed.map((k) => {
      const [was, is] = [before[k], after[k]];
      if (Array.isArray(was) && Array.isArray(is)) return `changed: ${k} (${was.length} -> ${sizeOf(is)})`;
      if (isObject(was) && isObject(is)) return `changed: ${k} (${count(was)} -> ${sizeOf(is)})`;
      if (sized(was) === '' && sized(is) === '')
        return `changed: ${k} (${scalarText(was)} -> ${scalarText(is)})`;
      return `changed: ${k}`;
    }),
  ];
}

/**
 * Replaces a part's config, guarded by the part's last update as read just before: a concurrent
 * edit makes the server refuse (FAILED_PRECONDITION) instead of being overwritten.
 */
async function updateConfig(s: Session, part: appApi.RobotPart, config: JsonObject): Promise<void> {
  await s.app.updateRobotPart({
    id: part.id,
    name: part.name,
    robotConfig: Struct.fromJson(config),
    lastKnownUpdate: part.lastUpdated,
  });
}

/** The id a `fragments` list item names: an id, or an object `{id}`. */
const fragmentIdOf = (item: JsonValue): string | undefined =>
  typeof item === 'string' ? item : isObject(item) && typeof item.id === 'string' ? item.id : undefined;

async function editFragments(ctx: CliContext, command: Command, options: Options, adding: boolean) {
  const s = await ctx.session(command);
  const fragmentId = String(options.fragment);
  const { part, config } = await getPart(s, await partNamed(ctx, s, options));
  const list = config.fragments ?? [];
  if (!Array.isArray(list))
    throw new Error(`the config of part ${part.name} has a fragments key that is not a list`);
  const present = list.some((item) => fragmentIdOf(item) === fragmentId);
  if (adding && present) throw new Error(`fragment ${fragmentId} is already on part ${part.name}`);
  if (!adding && !present) throw new Error(`fragment ${fragmentId} is not on part ${part.name}`);
  const fragments = adding
    ? [...list, { id: fragmentId }]
    : list.filter((item) => fragmentIdOf(item) !== fragmentId);
  await updateConfig(s, part, { ...config, fragments });
  const ids = fragments.map(fragmentIdOf).filter((id): id is string => id !== undefined);
  ctx
    .output(command)
    .result(
      { partId: part.id, fragmentId, fragments: ids },
      () =>
        `${adding ? 'added' : 'removed'} fragment ${fragmentId} ${adding ? 'to' : 'from'} part ${part.name}`,
    );
}

export function registerPartCommands(program: Command, ctx: CliContext): void {
  const machines =
    program.commands.find((c) => c.name() === 'machines') ??
    program.command('machines').description('machines and their parts');

  // machines logs: the main part's logs.
  logFlags(
    machineFlags(machines.command('logs').description("show (or follow) the logs of a machine's main part")),
  ).action(async (options: Options, command: Command) => {
    const s = await ctx.session(command);
    const machineId = await machineNamed(ctx, s, options);
    const { parts } = await s.app.getRobotParts({ robotId: machineId });
    const main = parts.find((p) => p.mainPart);
    if (!main) throw new Error(`machine ${machineId} has no main part`);
    await printLogs(ctx, command, s, main.id, options);
  });

  const part = machines.command('part').description("a machine's parts: status, config, logs");

  machineFlags(part.command('list').description("list a machine's parts")).action(
    async (options: Options, command: Command) => {
      const s = await ctx.session(command);
      const machineId = await machineNamed(ctx, s, options);
      const { parts } = await s.app.getRobotParts({ robotId: machineId });
      const rows = parts.map((p) => ({
        id: p.id,
        name: p.name,
        machineId: p.robot,
        mainPart: p.mainPart,
        onlineState: onlineStateOf(p.onlineState),
        lastAccess: isoOf(p.lastAccess),
      }));
      ctx.output(command).rows(rows, [
        { heading: 'name', value: (p) => p.name },
        { heading: 'id', value: (p) => p.id },
        { heading: 'main', value: (p) => (p.mainPart ? 'yes' : '') },
        { heading: 'status', value: (p) => p.onlineState.replace('_', ' ') },
        { heading: 'last access', value: (p) => ago(p.lastAccess) },
      ]);
    },
  );

  partFlags(
    part.command('status').description("show a part's status: host, platform, version, last access"),
  ).action(async (options: Options, command: Command) => {
    const s = await ctx.session(command);
    const { part: p } = await getPart(s, await partNamed(ctx, s, options));
    const info = (p.userSuppliedInfo?.toJson() ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    const status = {
      id: p.id,
      name: p.name,
      machineId: p.robot,
      locationId: p.locationId,
      mainPart: p.mainPart,
      onlineState: onlineStateOf(p.onlineState),
      lastAccess: isoOf(p.lastAccess),
      host: text(info.host),
      os: text(info.os),
      platform: text(info.platform),
      version: text(info.version),
      gitRevision: text(info.gitRevision),
      ips: Array.isArray(info.ips) ? info.ips.map(String) : [],
      fqdn: p.fqdn,
      localFqdn: p.localFqdn,
      dnsName: p.dnsName,
      secretCount: p.secrets.length,
      createdOn: isoOf(p.createdOn),
      lastUpdated: isoOf(p.lastUpdated),
    };
    ctx.output(command).result(status, (v) =>
      fieldLines([
        ['name', v.name],
        ['id', v.id],
        ['machine', v.machineId],
        ['location', v.locationId],
        ['main part', v.mainPart ? 'yes' : 'no'],
        ['status', v.onlineState.replace('_', ' ')],
        ['last access', v.lastAccess === '' ? 'never' : `${v.lastAccess} (${ago(v.lastAccess)})`],
        ['host', v.host],
        ['os', v.os],
        ['platform', v.platform],
        ['version', v.version],
        ['git revision', v.gitRevision],
        ['ips', v.ips.join(', ')],
        ['fqdn', v.fqdn],
        ['local fqdn', v.localFqdn],
        ['secrets', String(v.secretCount)],
        ['created', v.createdOn],
        ['last updated', v.lastUpdated],
      ]),
    );
  });

  machineFlags(part.command('create').description('add a part to a machine'))
    .requiredOption('--name <name>', 'the new part name')
    .action(async (options: Options, command: Command) => {
      const s = await ctx.session(command);
      const machineId = await machineNamed(ctx, s, options);
      const name = String(options.name);
      const { partId } = await s.app.newRobotPart({ robotId: machineId, partName: name });
      ctx
        .output(command)
        .result(
          { id: partId, name, machineId },
          (v) => `created part ${v.name} (${v.id}) on machine ${machineId}`,
        );
    });

  partFlags(part.command('delete').description('delete a part (a main part cannot be deleted)')).action(
    async (options: Options, command: Command) => {
      const s = await ctx.session(command);
      const id = await partNamed(ctx, s, options);
      await s.app.deleteRobotPart({ partId: id });
      ctx.output(command).result({ id, deleted: true }, () => `deleted part ${id}`);
    },
  );

  partFlags(part.command('restart').description('ask a part to restart (at its next check-in)')).action(
    async (options: Options, command: Command) => {
      const s = await ctx.session(command);
      const id = await partNamed(ctx, s, options);
      await s.app.markPartForRestart({ partId: id });
      ctx.output(command).result({ id, restartRequested: true }, () => `part ${id} is marked for restart`);
    },
  );

  partFlags(
    part.command('history').description("show a part's config history: who changed it, and when"),
  ).action(async (options: Options, command: Command) => {
    const s = await ctx.session(command);
    const { history } = await s.app.getRobotPartHistory({ id: await partNamed(ctx, s, options) });
    const rows = history.map((h) => ({
      when: isoOf(h.when),
      editor: h.editedBy?.value ?? '',
      editorType: EDITOR_TYPES[h.editedBy?.type ?? 0] ?? 'unknown',
      oldName: h.old?.name ?? '',
      oldConfig: (h.old?.robotConfig?.toJson() as JsonObject | undefined) ?? {},
    }));
    ctx.output(command).rows(rows, [
      { heading: 'when', value: (h) => h.when },
      { heading: 'editor', value: (h) => h.editor },
      { heading: 'as', value: (h) => h.editorType },
      { heading: 'old name', value: (h) => h.oldName },
    ]);
  });

  logFlags(partFlags(part.command('logs').description("show (or follow) a part's logs"))).action(
    async (options: Options, command: Command) => {
      const s = await ctx.session(command);
      await printLogs(ctx, command, s, await partNamed(ctx, s, options), options);
    },
  );

  const config = part.command('config').description("a part's config (JSON)");
  partFlags(config.command('get').description("print a part's config as JSON")).action(
    async (options: Options, command: Command) => {
      const s = await ctx.session(command);
      const { config: value } = await getPart(s, await partNamed(ctx, s, options));
      ctx.output(command).result(value, (v) => JSON.stringify(v, null, 2));
    },
  );
  partFlags(
    config.command('set').description("replace a part's config with a JSON object; prints what changed"),
  )
    .option('--file <file>', 'the JSON file to read (stdin when absent or -)')
    .action(async (options: Options, command: Command) => {
      const file = typeof options.file === 'string' ? options.file : undefined;
      const after = await readJsonObject(ctx.io, file, '--file');
      const s = await ctx.session(command);
      const { part: p, config: before } = await getPart(s, await partNamed(ctx, s, options));
      await updateConfig(s, p, after);
      const changes = configChanges(before, after);
      ctx.output(command).result({ partId: p.id, ...changes }, (c) => {
        const lines = changeLines(before, after, c);
        return [
          `updated the config of part ${p.name} (${p.id})`,
          ...(lines.length ? lines : ['no changes']),
        ].join('\n');
      });
    });

  const fragments = part.command('fragments').description("the fragments in a part's config");
  partFlags(fragments.command('add').description("add a fragment to a part's config"))
    .requiredOption('--fragment <id>', 'the fragment id')
    .action((options: Options, command: Command) => editFragments(ctx, command, options, true));
  partFlags(fragments.command('remove').description("remove a fragment from a part's config"))
    .requiredOption('--fragment <id>', 'the fragment id')
    .action((options: Options, command: Command) => editFragments(ctx, command, options, false));
}
