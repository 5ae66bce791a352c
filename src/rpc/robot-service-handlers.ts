import type { ServiceImpl } from '@connectrpc/connect';
import { appRobotApi } from '@viamrobotics/sdk';
import type { MachineAgentService } from '../services/machine-agent-service.js';
import type { PartLogService } from '../services/part-log-service.js';
import { encodeConfigReply } from './config-reply.js';
import { LogRequestDecoder, type DecodedLogRequest } from './log-request-codec.js';
import { needsRestartReply } from './needs-restart-reply.js';
import { preEncoded } from './pre-encoded.js';
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
      // Encoded once per served config, however many times the machine asks.
      const encoded = await agent.config(
        partCallerOf(ctx, req.id),
        info && {
          host: info.host,
          os: info.os,
          ips: [...info.ips],
          version: info.version,
          gitRevision: info.gitRevision,
          platform: info.platform,
        },
        encodeConfigReply,
      );
      return preEncoded(appRobotApi.ConfigResponse, encoded);
    },
    async needsRestart(req, ctx) {
      const answer = await agent.needsRestart(partCallerOf(ctx, req.id));
      return needsRestartReply(req.id, answer.mustRestart, answer.checkIntervalSeconds);
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
