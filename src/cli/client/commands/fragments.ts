import { appApi } from '@viamrobotics/sdk';
import type { Command } from 'commander';
import { structFromObject } from '../../../rpc/wire-values.js';
import { UsageError, type Session } from '../connection.js';
import { readJsonObject } from '../json-input.js';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { fragmentIdOf } from '../resolve.js';
import { isoOf } from '../values.js';

/** Visibilities as the command line writes them. */
const VISIBILITIES = {
  private: appApi.FragmentVisibility.PRIVATE,
  public: appApi.FragmentVisibility.PUBLIC,
  public_unlisted: appApi.FragmentVisibility.PUBLIC_UNLISTED,
} as const;

type VisibilityName = keyof typeof VISIBILITIES;
const VISIBILITY_NAMES = Object.keys(VISIBILITIES) as VisibilityName[];

/** A visibility flag's value; a usage error for anything else. */
function visibilityOf(value: string, flag = '--visibility'): appApi.FragmentVisibility {
  const found = VISIBILITIES[value as VisibilityName] as appApi.FragmentVisibility | undefined;
  if (found === undefined) {
    throw new UsageError(`${flag} must be one of ${VISIBILITY_NAMES.join(', ')} (got "${value}")`);
  }
  return found;
}

/** A visibility from the wire, by name ('unspecified' when the server sent none). */
const visibilityName = (value: appApi.FragmentVisibility): string =>
  VISIBILITY_NAMES.find((name) => VISIBILITIES[name] === value) ?? 'unspecified';

/** A fragment as a listing shows it: plain fields, no config. */
const fragmentSummary = (f: appApi.Fragment) => ({
  id: f.id,
  name: f.name,
  visibility: visibilityName(f.visibility),
  revision: f.revision,
  organizationId: f.organizationOwner,
  robotPartCount: f.robotPartCount,
  createdOn: isoOf(f.createdOn),
  lastUpdated: isoOf(f.lastUpdated),
});

/** A fragment with its config as plain JSON. */
const fragmentView = (f: appApi.Fragment) => ({
  ...fragmentSummary(f),
  config: (f.fragment?.toJson() ?? {}) as Record<string, unknown>,
});

/** Fetches a fragment; NOT_FOUND (from the server) when it is not there. */
async function getFragment(s: Session, id: string, version?: string): Promise<appApi.Fragment> {
  const { fragment } = await s.app.getFragment({ id, version });
  if (!fragment) throw new Error(`the server returned no fragment for ${id}`);
  return fragment;
}

const fragmentOption = (command: Command) =>
  command.requiredOption('--fragment <id>', 'the fragment (its id, or its name)');

export function registerFragmentCommands(program: Command, ctx: CliContext): void {
  const fragments = program
    .command('fragments')
    .alias('fragment')
    .description('fragments: configuration shared by many machine parts');

  targetOption(
    fragments.command('list').description("list an organization's fragments"),
    'organization',
    'the organization (default: flotilla defaults set-org)',
  )
    .option(
      '--visibility <list>',
      `only these visibilities, comma-separated: ${VISIBILITY_NAMES.join(', ')} (default: all)`,
    )
    .action(async (options: Record<string, unknown>, command: Command) => {
      const visibility = typeof options.visibility === 'string' ? options.visibility : undefined;
      const wanted =
        visibility === undefined
          ? Object.values(VISIBILITIES)
          : visibility
              .split(',')
              .map((v) => v.trim())
              .filter((v) => v !== '')
              .map((v) => visibilityOf(v));
      if (wanted.length === 0) throw new UsageError('--visibility names no visibility');
      const s = await ctx.session(command);
      const organizationId = await ctx.organizationId(targetValue(options, 'organization'));
      const { fragments: list } = await s.app.listFragments({ organizationId, fragmentVisibility: wanted });
      const rows = list.map(fragmentSummary);
      ctx.output(command).rows(rows, [
        { heading: 'name', value: (f) => f.name },
        { heading: 'id', value: (f) => f.id },
        { heading: 'visibility', value: (f) => f.visibility },
        { heading: 'revision', value: (f) => f.revision },
        { heading: 'parts', value: (f) => String(f.robotPartCount) },
      ]);
    });

  fragmentOption(fragments.command('get').description('show a fragment and its config'))
    .option('--version <version>', 'a revision number or a tag (default: the latest revision)')
    .action(async (options: { fragment: string; version?: string }, command: Command) => {
      const s = await ctx.session(command);
      const id = await fragmentIdOf(ctx, s, options.fragment, Object.values(VISIBILITIES));
      const view = fragmentView(await getFragment(s, id, options.version));
      ctx
        .output(command)
        .result(
          view,
          (f) =>
            `fragment ${f.name} (${f.id}), ${f.visibility}, revision ${f.revision}, used by ${f.robotPartCount} part(s)\n` +
            JSON.stringify(f.config, null, 2),
        );
    });

  targetOption(
    fragments.command('create').description('create a fragment'),
    'organization',
    'the organization to own it (default: flotilla defaults set-org)',
  )
    .requiredOption('--name <name>', 'the fragment name')
    .option('--file <file>', 'its config: a JSON file, or - for stdin (default: {})')
    .option('--visibility <visibility>', `one of ${VISIBILITY_NAMES.join(', ')} (default: private)`)
    .action(async (options: Record<string, unknown>, command: Command) => {
      const name = String(options.name);
      const file = typeof options.file === 'string' ? options.file : undefined;
      const visibility =
        typeof options.visibility === 'string' ? visibilityOf(options.visibility) : undefined;
      const config = file === undefined ? {} : await readJsonObject(ctx.io, file, '--file');
      const s = await ctx.session(command);
      const organizationId = await ctx.organizationId(targetValue(options, 'organization'));
      const { fragment } = await s.app.createFragment({
        organizationId,
        name,
        config: structFromObject(config),
        visibility,
      });
      const created = { id: fragment?.id ?? '', name: fragment?.name ?? name };
      ctx.output(command).result(created, (f) => `created fragment ${f.name} (${f.id})`);
    });

  fragmentOption(fragments.command('update').description("change a fragment's name, config or visibility"))
    .option('--name <name>', 'a new name')
    .option('--file <file>', 'the new config: a JSON file, or - for stdin')
    .option('--visibility <visibility>', `one of ${VISIBILITY_NAMES.join(', ')}`)
    .action(
      async (
        options: { fragment: string; name?: string; file?: string; visibility?: string },
        command: Command,
      ) => {
        if (options.name === undefined && options.file === undefined && options.visibility === undefined) {
          throw new UsageError('fragments update needs --name, --file or --visibility');
        }
        const visibility = options.visibility === undefined ? undefined : visibilityOf(options.visibility);
        const config =
          options.file === undefined ? undefined : await readJsonObject(ctx.io, options.file, '--file');
        const s = await ctx.session(command);
        const id = await fragmentIdOf(ctx, s, options.fragment, Object.values(VISIBILITIES));
        // What is not given stays as it is; the time read makes a concurrent edit fail.
        const current = await getFragment(s, id);
        const { fragment } = await s.app.updateFragment({
          id,
          name: options.name ?? current.name,
          config: config === undefined ? undefined : structFromObject(config),
          visibility,
          lastKnownUpdate: current.lastUpdated,
        });
        const view = fragmentView(fragment ?? current);
        ctx
          .output(command)
          .result(
            view,
            (f) => `updated fragment ${f.name} (${f.id}): ${f.visibility}, revision ${f.revision}`,
          );
      },
    );

  fragmentOption(fragments.command('delete').description('delete a fragment no part uses')).action(
    async (options: { fragment: string }, command: Command) => {
      const s = await ctx.session(command);
      const id = await fragmentIdOf(ctx, s, options.fragment, Object.values(VISIBILITIES));
      await s.app.deleteFragment({ id });
      ctx.output(command).result({ id, deleted: true }, () => `deleted fragment ${id}`);
    },
  );

  const tag = fragments.command('tag').description("a fragment's tags: names for its revisions");
  const printTags = (
    command: Command,
    fragmentId: string,
    tags: readonly { tag: string; revision: string }[],
    done: string,
  ) => {
    const value = { fragmentId, tags: tags.map((t) => ({ tag: t.tag, revision: t.revision })) };
    ctx.output(command).result(value, (v) => {
      const list = v.tags.map((t) => `  ${t.tag} -> revision ${t.revision}`).join('\n');
      return `${done}\ntags of ${fragmentId}:${v.tags.length === 0 ? ' (none)' : `\n${list}`}`;
    });
  };
  fragmentOption(tag.command('set').description('point a tag at a revision (creating the tag)'))
    .requiredOption('--tag <tag>', 'the tag')
    .requiredOption('--revision <revision>', 'the revision it names')
    .action(async (options: { fragment: string; tag: string; revision: string }, command: Command) => {
      const s = await ctx.session(command);
      const fragmentId = await fragmentIdOf(ctx, s, options.fragment, Object.values(VISIBILITIES));
      const { tags } = await s.app.setFragmentTag({
        fragmentId,
        tag: options.tag,
        revision: options.revision,
      });
      printTags(command, fragmentId, tags, `tag ${options.tag} -> revision ${options.revision}`);
    });
  fragmentOption(tag.command('delete').description('delete a tag'))
    .requiredOption('--tag <tag>', 'the tag')
    .action(async (options: { fragment: string; tag: string }, command: Command) => {
      const s = await ctx.session(command);
      const fragmentId = await fragmentIdOf(ctx, s, options.fragment, Object.values(VISIBILITIES));
      const { tags } = await s.app.deleteFragmentTag({ fragmentId, tag: options.tag });
      printTags(command, fragmentId, tags, `deleted tag ${options.tag}`);
    });
}
