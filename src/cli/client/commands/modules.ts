import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { PartialMessage } from '@bufbuild/protobuf';
import { appApi } from '@viamrobotics/sdk';
import type { Command } from 'commander';
import { UsageError, type Session } from '../connection.js';
import type { CliContext } from '../context.js';
import { targetOption, targetValue } from '../options.js';
import { Progress, sizeOf } from '../progress.js';
import { readJsonObject } from '../json-input.js';
import type { Io } from '../output.js';

/** The size of each message of a module file upload. */
const CHUNK_BYTES = 64 * 1024;

/** viam's default manifest, in the current directory. */
const DEFAULT_MANIFEST = './meta.json';

const VISIBILITIES: Record<string, appApi.Visibility> = {
  private: appApi.Visibility.PRIVATE,
  public: appApi.Visibility.PUBLIC,
  public_unlisted: appApi.Visibility.PUBLIC_UNLISTED,
};

/** What UpdateModule takes from viam's meta.json (markdown_link, build and applications are not used). */
interface Manifest {
  moduleId: string;
  visibility: appApi.Visibility;
  url: string;
  description: string;
  models: { api: string; model: string; description?: string }[];
  entrypoint: string;
  firstRun?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A string field of meta.json ('' when absent); a usage error when it is not a string. */
function stringField(json: Record<string, unknown>, field: string, path: string): string {
  const value = json[field];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new UsageError(`${path}: "${field}" must be a string`);
  return value;
}

/** Reads viam's meta.json (cli/module_registry.go's ModuleManifest). */
async function readManifest(io: Io, path: string): Promise<Manifest> {
  const json = await readJsonObject(io, path, '--module');
  const moduleId = stringField(json, 'module_id', path);
  if (moduleId === '') throw new UsageError(`${path} has no "module_id"`);
  const visibilityName = stringField(json, 'visibility', path);
  const visibility = VISIBILITIES[visibilityName];
  if (visibility === undefined) {
    throw new UsageError(
      `${path}: "visibility" must be one of ${Object.keys(VISIBILITIES).join(', ')} (got "${visibilityName}")`,
    );
  }
  const rawModels = json.models ?? [];
  if (!Array.isArray(rawModels)) throw new UsageError(`${path}: "models" must be a list`);
  const models = rawModels.map((m: unknown, i) => {
    if (!isObject(m)) throw new UsageError(`${path}: models[${i}] must be an object`);
    const api = stringField(m, 'api', `${path}: models[${i}]`);
    const model = stringField(m, 'model', `${path}: models[${i}]`);
    const description = stringField(m, 'short_description', `${path}: models[${i}]`);
    return { api, model, ...(description === '' ? {} : { description }) };
  });
  const firstRun = stringField(json, 'first_run', path);
  return {
    moduleId,
    visibility,
    url: stringField(json, 'url', path),
    description: stringField(json, 'description', path),
    models,
    entrypoint: stringField(json, 'entrypoint', path),
    ...(firstRun === '' ? {} : { firstRun }),
  };
}

/**
 * A module id as the server takes it, `<namespace or organization id>:<name>`: a bare name is put
 * in the organization given (or the default one). When an organization is given with a full id,
 * the id must be that organization's.
 */
async function qualifiedModuleId(
  ctx: CliContext,
  s: Session,
  id: string,
  organization: string | undefined,
): Promise<string> {
  const colon = id.indexOf(':');
  if (colon < 0) return `${await ctx.organizationId(organization)}:${id}`;
  const prefix = id.slice(0, colon);
  if (organization !== undefined && prefix !== organization) {
    const { organization: org } = await s.app.getOrganization({ organizationId: organization });
    if (!org?.publicNamespace || org.publicNamespace !== prefix) {
      throw new UsageError(`module ${id} is not a module of organization ${organization}`);
    }
  }
  return id;
}

export function registerModuleCommands(program: Command, ctx: CliContext): void {
  const module = program
    .command('module')
    .alias('modules')
    .description('modules in the registry: create, update from meta.json, upload versions');

  targetOption(
    module.command('create').description('create a module in an organization'),
    'organization',
    'the organization to own it (default: flotilla defaults set-org)',
  )
    .requiredOption('--name <name>', 'the module name (lowercase letters, digits, - and _)')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const s = await ctx.session(command);
      const organizationId = await ctx.organizationId(targetValue(options, 'organization'));
      const created = await s.app.createModule({ organizationId, name: String(options.name) });
      ctx
        .output(command)
        .result(
          { moduleId: created.moduleId, url: created.url },
          (m) => `created module ${m.moduleId}\n${m.url}`,
        );
    });

  targetOption(
    module
      .command('update')
      .description("set a module's visibility, description, models and entrypoint from its meta.json"),
    'organization',
    'the organization of a module_id given without one (default: flotilla defaults set-org)',
  )
    .option('--module <file>', 'the path to meta.json', DEFAULT_MANIFEST)
    .action(async (options: Record<string, unknown>, command: Command) => {
      const path = typeof options.module === 'string' ? options.module : DEFAULT_MANIFEST;
      const manifest = await readManifest(ctx.io, path);
      const s = await ctx.session(command);
      const moduleId = await qualifiedModuleId(
        ctx,
        s,
        manifest.moduleId,
        targetValue(options, 'organization'),
      );
      const { url } = await s.app.updateModule({
        moduleId,
        visibility: manifest.visibility,
        url: manifest.url,
        description: manifest.description,
        models: manifest.models,
        entrypoint: manifest.entrypoint,
        firstRun: manifest.firstRun,
      });
      ctx.output(command).result({ moduleId, url }, (m) => `updated module ${m.moduleId}\n${m.url}`);
    });

  targetOption(
    module
      .command('upload')
      .description("upload a version of a module's file (a .tar.gz) for a platform")
      .argument('[file]', 'the file to upload, a .tar.gz holding the entrypoint'),
    'organization',
    'the organization of a module id given without one (default: flotilla defaults set-org)',
  )
    .requiredOption('--version <version>', 'the version to upload (semver, such as 0.1.0)')
    .requiredOption('--platform <platform>', 'the platform of the file: any, or os/arch such as linux/amd64')
    .option(
      '--module-id <id>',
      'the module, <namespace or organization id>:<name> (default: from ./meta.json)',
    )
    .option('--module <id>', 'the same as --module-id; or the path to a meta.json to read it from')
    .option('--upload <file>', 'the same as the file argument')
    .option('--tags <tags>', 'platform tags, comma-separated (such as distro:debian,os_version:12)')
    .action(async (file: string | undefined, options: Record<string, unknown>, command: Command) => {
      const str = (name: string) => (typeof options[name] === 'string' ? options[name] : undefined);
      const path = file ?? str('upload');
      if (path === undefined) throw new UsageError('module upload needs the file to upload');
      if (file !== undefined && str('upload') !== undefined && file !== str('upload')) {
        throw new UsageError('give the file once: as the argument or as --upload');
      }
      let given = str('moduleId') ?? str('module');
      if (given === undefined || given.endsWith('.json')) {
        const manifest = given ?? DEFAULT_MANIFEST;
        if (given === undefined && !existsSync(manifest)) {
          throw new UsageError('module upload needs --module-id (or a meta.json in this directory)');
        }
        given = (await readManifest(ctx.io, manifest)).moduleId;
      }
      const size = await stat(path).then(
        (info) => {
          if (!info.isFile()) throw new UsageError(`${path} is not a file (upload a .tar.gz)`);
          return info.size;
        },
        (error: Error) => {
          throw new UsageError(`cannot read ${path}: ${error.message}`);
        },
      );
      const version = String(options.version);
      const platform = String(options.platform);
      const platformTags = (str('tags') ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      const s = await ctx.session(command);
      const moduleId = await qualifiedModuleId(ctx, s, given, targetValue(options, 'organization'));
      const progress = new Progress('uploading', size, ctx.io.err, Boolean(process.stderr.isTTY));
      async function* messages(): AsyncGenerator<PartialMessage<appApi.UploadModuleFileRequest>> {
        yield {
          moduleFile: { case: 'moduleFileInfo', value: { moduleId, version, platform, platformTags } },
        };
        for await (const chunk of createReadStream(path as string, { highWaterMark: CHUNK_BYTES })) {
          const bytes = chunk as Buffer;
          yield { moduleFile: { case: 'file', value: bytes } };
          progress.add(bytes.length);
        }
      }
      let url: string;
      try {
        ({ url } = await s.app.uploadModuleFile(messages()));
      } finally {
        progress.finish();
      }
      ctx
        .output(command)
        .result(
          { moduleId, version, platform, url },
          (m) => `uploaded ${m.moduleId} version ${m.version} for ${m.platform} (${sizeOf(size)})\n${m.url}`,
        );
    });
}
