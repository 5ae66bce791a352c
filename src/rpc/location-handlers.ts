import { appApi } from '@viamrobotics/sdk';
import type { Location, LocationAuth } from '../domain/models.js';
import type { LocationService } from '../services/location-service.js';
import type { AppHandlers } from './app-service-impl.js';
import { callerOf } from './call-context.js';
import { timestamp } from './wire-values.js';

const authToProto = (auth: LocationAuth) =>
  new appApi.LocationAuth({
    locationId: auth.locationId,
    secret: auth.secrets[0]?.secret ?? '',
    secrets: auth.secrets.map((s) => ({
      id: s.id,
      secret: s.secret,
      createdOn: timestamp(s.createdOn),
      state: appApi.SharedSecret_State.ENABLED,
    })),
  });

const toProto = (location: Location) =>
  new appApi.Location({
    id: location.id,
    name: location.name,
    parentLocationId: location.parentLocationId,
    createdOn: timestamp(location.createdOn),
    organizations: location.organizations,
    robotCount: location.robotCount,
    config: { region: location.region },
    primaryOrgIdentity: location.primaryOrganization,
    ...(location.auth ? { auth: authToProto(location.auth) } : {}),
  });

/** AppService methods about locations and their secrets. */
export function locationHandlers(locations: LocationService): AppHandlers {
  return {
    async createLocation(req, ctx) {
      const location = await locations.create(
        callerOf(ctx),
        req.organizationId,
        req.name,
        req.parentLocationId,
      );
      return { location: toProto(location) };
    },
    async getLocation(req, ctx) {
      return { location: toProto(await locations.get(callerOf(ctx), req.locationId)) };
    },
    async updateLocation(req, ctx) {
      const location = await locations.update(callerOf(ctx), req.locationId, {
        name: req.name,
        parentLocationId: req.parentLocationId,
        region: req.region,
      });
      return { location: toProto(location) };
    },
    async deleteLocation(req, ctx) {
      await locations.delete(callerOf(ctx), req.locationId);
      return {};
    },
    async listLocations(req, ctx) {
      return { locations: (await locations.list(callerOf(ctx), req.organizationId)).map(toProto) };
    },
    async shareLocation(req, ctx) {
      await locations.share(callerOf(ctx), req.locationId, req.organizationId);
      return {};
    },
    async unshareLocation(req, ctx) {
      await locations.unshare(callerOf(ctx), req.locationId, req.organizationId);
      return {};
    },
    async locationAuth(req, ctx) {
      return { auth: authToProto(await locations.auth(callerOf(ctx), req.locationId)) };
    },
    async createLocationSecret(req, ctx) {
      return { auth: authToProto(await locations.createSecret(callerOf(ctx), req.locationId)) };
    },
    async deleteLocationSecret(req, ctx) {
      await locations.deleteSecret(callerOf(ctx), req.locationId, req.secretId);
      return {};
    },
  };
}
