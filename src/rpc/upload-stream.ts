import { invalidArgument } from '../domain/errors.js';

/** What one message of a client-streamed upload carries. */
export type UploadPart<I> = { info: I } | { bytes: Uint8Array } | undefined;

/**
 * A client-streamed upload (UploadModuleFile, CreatePackage): the info its first message must
 * carry, then the bytes of the messages after it, read as the service consumes them. `field`
 * names the info in refusals: missing from the first message, or sent again later.
 */
export async function splitUpload<M, I>(
  requests: AsyncIterable<M>,
  read: (message: M) => UploadPart<I>,
  field: string,
): Promise<{ info: I; bytes: AsyncIterable<Uint8Array> }> {
  const messages = requests[Symbol.asyncIterator]();
  const first = await messages.next();
  const head = first.done ? undefined : read(first.value);
  if (!head || !('info' in head)) throw invalidArgument(`the first message of an upload must carry ${field}`);
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await messages.next();
      if (next.done) return;
      const part = read(next.value);
      if (part && 'info' in part)
        throw invalidArgument(`${field} may be sent only once, in the first message`);
      if (part && part.bytes.byteLength > 0) yield part.bytes;
    }
  }
  return { info: head.info, bytes: bytes() };
}
