import type { ApiKey } from '../domain/models.js';
import type { ApiKeyService } from '../services/api-key-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { timestamp } from './wire-values.js';

/** An API key with its authorizations, never its value. */
export const apiKeyToProto = (key: ApiKey) => ({
  apiKey: { id: key.id, key: '', name: key.name, createdOn: timestamp(key.createdOn) },
  authorizations: key.authorizations.map((a) => ({
    authorizationType: 'role',
    authorizationId: `${a.resourceType}_${a.role}`,
    resourceType: a.resourceType,
    resourceId: a.resourceId,
    orgId: a.organizationId,
  })),
});

/** AppService methods about API keys. */
export function apiKeyHandlers(keys: ApiKeyService): AppHandlers {
  return {
    async createKey(req, ctx) {
      return keys.create(callerOf(ctx), req.authorizations, req.name);
    },
    async listKeys(req, ctx) {
      return { apiKeys: (await keys.list(callerOf(ctx), req.orgId)).map(apiKeyToProto) };
    },
    async deleteKey(req, ctx) {
      await keys.delete(callerOf(ctx), req.id);
      return {};
    },
    async rotateKey(req, ctx) {
      return keys.rotate(callerOf(ctx), req.id);
    },
    async renameKey(req, ctx) {
      return keys.rename(callerOf(ctx), req.id, req.name);
    },
    async createKeyFromExistingKeyAuthorizations(req, ctx) {
      return keys.createFromExisting(callerOf(ctx), req.id);
    },
  };
}
