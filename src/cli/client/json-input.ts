import { readFile } from 'node:fs/promises';
import type { JsonObject } from '@bufbuild/protobuf';
import { UsageError } from './connection.js';
import type { Io } from './output.js';

/** All of stdin, as text (a prompt first when a person is typing it). */
export async function readStdin(io: Io, prompt: string): Promise<string> {
  if (process.stdin.isTTY) io.err(prompt);
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

/**
 * A JSON document from a file, or from stdin when the path is `-` or absent; a usage error (exit
 * 2, nothing sent) when it cannot be read or parsed.
 */
export async function readJsonInput(io: Io, path: string | undefined, flag: string): Promise<unknown> {
  const source = path === undefined || path === '-' ? 'stdin' : path;
  let text: string;
  try {
    text =
      source === 'stdin'
        ? await readStdin(io, `reading JSON for ${flag} from stdin; end it with Ctrl-D\n`)
        : await readFile(source, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${source}: ${(error as Error).message}`, false);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(
      `${flag}: ${source} is not JSON (${(error as Error).message.replace(/\s+/g, ' ')})`,
      false,
    );
  }
}

/** A JSON object (a config, a meta.json) from a file or stdin, as readJsonInput reads it. */
export async function readJsonObject(io: Io, path: string | undefined, flag: string): Promise<JsonObject> {
  const value = await readJsonInput(io, path, flag);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(
      `${flag}: ${path === undefined || path === '-' ? 'stdin' : path} must hold a JSON object ({...})`,
      false,
    );
  }
  return value as JsonObject;
}
