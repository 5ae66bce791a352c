import type { ServiceImpl } from '@connectrpc/connect';
import { appRobotApi } from '@viamrobotics/sdk';
import type { MachineAgentService } from '../services/machine-agent-service.js';
import type { PartLogService } from '../services/part-log-service.js';
import { LogRequestDecoder, type DecodedLogRequest } from './log-request-codec.js';
import { partCallerOf } from './call-context.js';
import { RobotService } from './service-descriptors.generated.js';

/** viam.app.v1.RobotService: what a machine part asks for itself, with its own token. */
export function robotServiceHandlers(
  agent: MachineAgentService,
  partLogs: PartLogService,
): Partial<ServiceImpl<typeof RobotService>> {
  return {
    async config(req, ctx) {
      const info = req.agentInfo;
      const served = await agent.config(
        partCallerOf(ctx, req.id),
        info && {
          host: info.host,
          os: info.os,
          ips: [...info.ips],
          version: info.version,
          gitRevision: info.gitRevision,
          platform: info.platform,
        },
      );
      const { cloud } = served;
      return appRobotApi.ConfigResponse.fromJson({
        config: {
          ...served.body,
          revision: served.revision,
          overwriteFragmentStatus: served.fragmentStatuses.map((s) => ({
            error: `fragment ${s.fragmentId}: ${s.error}`,
          })),
          cloud: {
            id: cloud.id,
            fqdn: cloud.fqdn,
            localFqdn: cloud.localFqdn,
            secret: cloud.secret,
            locationSecret: cloud.locationSecrets[0]?.secret ?? '',
            locationSecrets: cloud.locationSecrets,
            locationId: cloud.locationId,
            machineId: cloud.machineId,
            primaryOrgId: cloud.primaryOrgId,
            signalingInsecure: cloud.signalingInsecure,
          },
        },
      });
    },
    async needsRestart(req, ctx) {
      const answer = await agent.needsRestart(partCallerOf(ctx, req.id));
      return {
        id: req.id,
        mustRestart: answer.mustRestart,
        restartCheckInterval: { seconds: BigInt(answer.checkIntervalSeconds), nanos: 0 },
      };
    },
    async log(req, ctx) {
      // The served descriptor decodes Log with the wire decoder (see `servedRobotService`).
      const { id, logs } = req as unknown as DecodedLogRequest;
      await partLogs.ingest(partCallerOf(ctx, id), logs);
      return {};
    },
    async certificate(req, ctx) {
      const issued = await agent.certificate(partCallerOf(ctx, req.id));
      return { id: req.id, tlsCertificate: issued.certificatePem, tlsPrivateKey: issued.privateKeyPem };
    },
  };
}

/**
 * RobotService as this server serves it: the same methods, with Log's request decoded by the
 * wire decoder instead of the generated class. Clients keep using `RobotService`.
 */
export const servedRobotService = {
  ...RobotService,
  methods: {
    ...RobotService.methods,
    log: {
      ...RobotService.methods.log,
      I: LogRequestDecoder as unknown as typeof RobotService.methods.log.I,
    },
  },
} as typeof RobotService;
