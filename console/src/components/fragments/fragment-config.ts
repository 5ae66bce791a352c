import type { JsonValue, Struct } from '@bufbuild/protobuf';
import { appApi } from '@viamrobotics/sdk';

/** Helpers of the Fragments page: config text ⇄ google.protobuf.Struct, visibility names. */

export const { FragmentVisibility } = appApi;
export type Visibility = appApi.FragmentVisibility;

/** The visibilities a person chooses from, in the order shown. */
export const VISIBILITIES: { value: Visibility; label: string; hint: string }[] = [
  { value: FragmentVisibility.PRIVATE, label: 'Private', hint: 'only this organization' },
  { value: FragmentVisibility.PUBLIC, label: 'Public', hint: 'listed for everyone' },
  { value: FragmentVisibility.PUBLIC_UNLISTED, label: 'Unlisted', hint: 'anyone with its ID' },
];

export function visibilityLabel(value: Visibility): string {
  return VISIBILITIES.find((v) => v.value === value)?.label ?? 'Unspecified';
}

/*
 * The SDK's messages carry its own copy of google.protobuf.Struct; a Struct built with another
 * copy of @bufbuild/protobuf would not serialize as theirs, so the class is taken from a field.
 */
const StructType = (() => {
  const field = appApi.CreateFragmentRequest.fields.find(2);
  if (field?.kind !== 'message') throw new Error('the SDK has no Struct field where expected');
  return field.T as unknown as { fromJson(value: JsonValue): Struct };
})();

/** A fragment's config as indented JSON text. */
export function configText(struct: Struct | undefined): string {
  return JSON.stringify(struct ? struct.toJson() : {}, null, 2);
}

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
  return StructType.fromJson(value as JsonValue);
}
