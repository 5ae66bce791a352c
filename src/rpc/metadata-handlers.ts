import { appApi } from '@viamrobotics/sdk';
import type { MetadataService } from '../services/metadata-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { structToObject } from './wire-values.js';

/** AppService methods that read and replace user-defined metadata. */
export function metadataHandlers(metadata: MetadataService): AppHandlers {
  return {
    async getOrganizationMetadata(req, ctx) {
      const data = await metadata.get(callerOf(ctx), 'organization', req.organizationId);
      return appApi.GetOrganizationMetadataResponse.fromJson({ data } as never);
    },
    async updateOrganizationMetadata(req, ctx) {
      await metadata.update(callerOf(ctx), 'organization', req.organizationId, structToObject(req.data));
      return {};
    },
    async getLocationMetadata(req, ctx) {
      const data = await metadata.get(callerOf(ctx), 'location', req.locationId);
      return appApi.GetLocationMetadataResponse.fromJson({ data } as never);
    },
    async updateLocationMetadata(req, ctx) {
      await metadata.update(callerOf(ctx), 'location', req.locationId, structToObject(req.data));
      return {};
    },
    async getRobotMetadata(req, ctx) {
      const data = await metadata.get(callerOf(ctx), 'robot', req.id);
      return appApi.GetRobotMetadataResponse.fromJson({ data } as never);
    },
    async updateRobotMetadata(req, ctx) {
      await metadata.update(callerOf(ctx), 'robot', req.id, structToObject(req.data));
      return {};
    },
    async getRobotPartMetadata(req, ctx) {
      const data = await metadata.get(callerOf(ctx), 'part', req.id);
      return appApi.GetRobotPartMetadataResponse.fromJson({ data } as never);
    },
    async updateRobotPartMetadata(req, ctx) {
      await metadata.update(callerOf(ctx), 'part', req.id, structToObject(req.data));
      return {};
    },
  };
}
