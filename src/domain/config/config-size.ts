/** Size bounds of stored part and fragment configs, so a stored config always fits a reply. */
import { invalidArgument } from '../errors.js';
import { structBytes } from '../reply-budget.js';

/** Largest part or fragment config stored, as JSON text. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Largest config as a google.protobuf.Struct on the wire. A list of small numbers takes up to
 * 5.5 times its JSON size there, and a config has to fit, with the rest of its reply, in the
 * 4 MiB a gRPC client accepts (viam-server reading RobotService.Config, a user GetRobotPart).
 */
export const MAX_CONFIG_ENCODED_BYTES = 2 * 1024 * 1024;

/** The config as stored (JSON text), or INVALID_ARGUMENT if it is too large in either form. */
export function serializeBoundedConfig(config: Record<string, unknown>): string {
  const json = JSON.stringify(config);
  if (Buffer.byteLength(json) > MAX_CONFIG_BYTES) {
    throw invalidArgument(`the config is larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  const encoded = structBytes(config);
  if (encoded > MAX_CONFIG_ENCODED_BYTES) {
    throw invalidArgument(
      `the config takes ${encoded} bytes as a protobuf Struct; at most ${MAX_CONFIG_ENCODED_BYTES} fit in a reply machines can read`,
    );
  }
  return json;
}
