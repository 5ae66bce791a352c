import type { FleetPrincipal } from '../authz/principal.js';
import { requireId } from '../domain/validation.js';
import { requirePublicUrl, type ServiceDeps } from './context.js';

/** The file a machine needs to connect (`/etc/viam.json` on the machine). */
export interface MachineCloudFile {
  cloud: { app_address: string; id: string; secret: string };
}

/** Hands owners what they need to set up a machine. */
export class ProvisioningService {
  constructor(private readonly deps: ServiceDeps) {}

  /** The viam.json of a part: where to connect, as whom, with which secret. Needs read_robot_secret. */
  async cloudFile(principal: FleetPrincipal, partId: string): Promise<MachineCloudFile> {
    const id = requireId(partId, 'part id');
    const { db, repos, authz, secrets, settings } = this.deps;
    await authz.require(db, principal, { type: 'part', id }, 'read_robot_secret');
    const [secret] = await repos.parts.listSecrets(db, id);
    return {
      cloud: {
        app_address: requirePublicUrl(settings),
        id,
        secret: secret ? secrets.open(secret.sealed) : '',
      },
    };
  }
}
