import type { JsonValue, Struct } from '@bufbuild/protobuf';
import { structFromObject, structToObject } from './wire.js';

/** A JSON value as the editors show it: indented by two spaces. */
export const jsonText = (value: unknown): string => JSON.stringify(value, null, 2);

/** A config Struct (a part's, a fragment's) as indented JSON text; unset reads as `{}`. */
export const configText = (struct: { toJson(): JsonValue } | undefined): string =>
  jsonText(structToObject(struct));

/**
 * Reads config text typed by a person: a JSON object as a Struct, or an Error saying in words
 * why not (the server is not asked about text that is not JSON).
 */
export function parseConfig(text: string): Struct | Error {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return new Error(
      `The config is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new Error('The config must be a JSON object, such as {"components": []}.');
  }
  return structFromObject(value as Record<string, unknown>);
}
