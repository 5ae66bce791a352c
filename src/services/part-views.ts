import type { Permission } from '../authz/permissions.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { livenessOf } from '../domain/online-state.js';
import { partAddresses } from '../domain/part-address.js';
import type { AgentInfo, Machine, MachinePart, SharedSecret } from '../domain/models.js';
import type { PartSecretRow, RobotPartRow, RobotRow } from '../store/schema.js';

/** Row to domain object for machines and parts, with protected fields only for those allowed. */
export class PartViews {
  constructor(
    private readonly secrets: SecretBox,
    private readonly domain: string,
  ) {}

  secretsOf(rows: readonly PartSecretRow[]): SharedSecret[] {
    return rows.map((r) => ({
      id: r.id,
      secret: this.secrets.open(r.secret_ciphertext),
      createdOn: new Date(r.created_at),
    }));
  }

  part(
    row: RobotPartRow,
    secretRows: readonly PartSecretRow[],
    permissions: ReadonlySet<Permission>,
  ): MachinePart {
    const lastAccess = row.last_access ? new Date(row.last_access) : undefined;
    const liveness = livenessOf(lastAccess);
    const { fqdn, localFqdn } = partAddresses(row.dns_name, row.location_id, this.domain);
    return {
      id: row.id,
      name: row.name,
      dnsName: row.dns_name,
      machineId: row.robot_id,
      locationId: row.location_id,
      mainPart: row.main_part === 1,
      fqdn,
      localFqdn,
      createdOn: new Date(row.created_at),
      lastUpdated: new Date(row.updated_at),
      lastAccess,
      onlineState: liveness.state,
      secondsSinceOnline: liveness.secondsSinceOnline,
      agentInfo: row.agent_info ? (JSON.parse(row.agent_info) as AgentInfo) : undefined,
      config: permissions.has('read_robot_config')
        ? (JSON.parse(row.config) as Record<string, unknown>)
        : undefined,
      secrets: permissions.has('read_robot_secret')
        ? this.secretsOf(secretRows.filter((s) => s.part_id === row.id))
        : undefined,
    };
  }

  /** A machine, its liveness taken from the most recent of its parts. */
  machine(row: RobotRow, parts: readonly RobotPartRow[]): Machine {
    const times = parts
      .filter((p) => p.robot_id === row.id && p.last_access)
      .map((p) => new Date(p.last_access ?? 0).getTime());
    const lastAccess = times.length > 0 ? new Date(Math.max(...times)) : undefined;
    const liveness = livenessOf(lastAccess);
    return {
      id: row.id,
      name: row.name,
      locationId: row.location_id,
      createdOn: new Date(row.created_at),
      lastAccess,
      onlineState: liveness.state,
      secondsSinceOnline: liveness.secondsSinceOnline,
    };
  }
}
