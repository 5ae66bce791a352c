/** The server's own helpers between JSON values and the SDK's messages (Struct, Timestamp). */
export { structFromObject, structToObject, timestamp } from '../../../src/rpc/wire-values.js';
