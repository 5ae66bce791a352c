import { appRobotApi } from '@viamrobotics/sdk';
import type { ServedConfig } from '../services/machine-agent-service.js';
import { fromJsonWithFastStructs } from './struct-splicing.js';

/** RobotService.Config's reply for a served config, encoded (protobuf binary; Structs by the fast codec). */
export function encodeConfigReply(served: ServedConfig): Uint8Array {
  const { cloud } = served;
  return fromJsonWithFastStructs(appRobotApi.ConfigResponse, {
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
  }).toBinary();
}
