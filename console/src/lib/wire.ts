import { appApi } from '@viamrobotics/sdk';
import type { JsonObject, JsonValue, Struct } from '@bufbuild/protobuf';

/** The SDK's own google.protobuf.Struct class: its runtime is bundled, so it is found through a field. */
const SdkStruct = (() => {
  const field = appApi.GetOrganizationMetadataResponse.fields.find(1);
  if (field?.kind !== 'message') throw new Error('the SDK has no Struct field where expected');
  return field.T;
})();

/** A JSON object as the SDK's Struct message, for a request field. */
export const structFrom = (value: JsonObject): Struct => SdkStruct.fromJson(value) as unknown as Struct;

/** A Struct from a reply as a plain JSON object ({} when unset). */
export const objectOf = (struct: { toJson(): JsonValue } | undefined): JsonObject =>
  (struct?.toJson() as JsonObject | undefined) ?? {};

/** A Date as a Timestamp for a request field. */
export const timestampOf = (date: Date) => ({
  seconds: BigInt(Math.floor(date.getTime() / 1000)),
  nanos: (date.getTime() % 1000) * 1e6,
});
