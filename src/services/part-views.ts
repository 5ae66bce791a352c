import type { Permission } from '../authz/permissions.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { livenessOf } from '../domain/online-state.js';
import { partAddresses } from '../domain/part-address.js';
import type { AgentInfo, Machine, MachinePart, SharedSecret } from '../domain/models.js';
import { openSecrets } from './mappers.js';
import type { MachineRecord, PartRecord, SealedSecret } from '../store/records.js';

/** Record to domain object for machines and parts, with protected fields only for those allowed. */
export class PartViews {
  constructor(
    private readonly secrets: SecretBox,
    private readonly domain: string,
  ) {}

  secretsOf(sealed: readonly SealedSecret[]): SharedSecret[] {
    return openSecrets(this.secrets, sealed);
  }

  part(
    part: PartRecord,
    secrets: readonly SealedSecret[],
    permissions: ReadonlySet<Permission>,
  ): MachinePart {
    const lastAccess = part.lastAccess ? new Date(part.lastAccess) : undefined;
    const liveness = livenessOf(lastAccess);
    const { fqdn, localFqdn } = partAddresses(part.dnsName, part.locationId, this.domain);
    return {
      id: part.id,
      name: part.name,
      dnsName: part.dnsName,
      machineId: part.machineId,
      locationId: part.locationId,
      mainPart: part.mainPart,
      fqdn,
      localFqdn,
      createdOn: new Date(part.createdAt),
      lastUpdated: new Date(part.updatedAt),
      lastAccess,
      onlineState: liveness.state,
      secondsSinceOnline: liveness.secondsSinceOnline,
      agentInfo: part.agentInfo as AgentInfo | undefined,
      config: permissions.has('read_robot_config') ? part.config : undefined,
      secrets: permissions.has('read_robot_secret')
        ? this.secretsOf(secrets.filter((s) => s.ownerId === part.id))
        : undefined,
    };
  }

  /** A machine, its liveness taken from the most recent of its parts. */
  machine(machine: MachineRecord, parts: readonly PartRecord[]): Machine {
    const times = parts
      .filter((p) => p.machineId === machine.id && p.lastAccess)
      .map((p) => new Date(p.lastAccess ?? 0).getTime());
    const lastAccess = times.length > 0 ? new Date(Math.max(...times)) : undefined;
    const liveness = livenessOf(lastAccess);
    return {
      id: machine.id,
      name: machine.name,
      locationId: machine.locationId,
      createdOn: new Date(machine.createdAt),
      lastAccess,
      onlineState: liveness.state,
      secondsSinceOnline: liveness.secondsSinceOnline,
    };
  }
}
