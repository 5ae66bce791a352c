import type { appApi } from '@viamrobotics/sdk';
import { app } from './api.js';

const SELECTED = 'flotilla.organization';

/** What the signed-in principal may do in the selected organization (CheckPermissions). */
export interface Abilities {
  /** Owner-level: members, API keys, organization settings. */
  manageOrganization: boolean;
  /** Edit machines: config saves, rename, delete, create. */
  writeRobots: boolean;
  readConfig: boolean;
  readLogs: boolean;
  writeFragments: boolean;
  writeLocations: boolean;
}

const NONE: Abilities = {
  manageOrganization: false,
  writeRobots: false,
  readConfig: false,
  readLogs: false,
  writeFragments: false,
  writeLocations: false,
};

/** The organizations the principal can see, the one selected, and what it may do there. */
class Organizations {
  list = $state<appApi.Organization[]>([]);
  selectedId = $state<string>(sessionStorage.getItem(SELECTED) ?? '');
  abilities = $state<Abilities>(NONE);
  loaded = $state(false);

  get selected(): appApi.Organization | undefined {
    return this.list.find((o) => o.id === this.selectedId);
  }

  async load(): Promise<void> {
    const reply = await app.listOrganizations({});
    this.list = reply.organizations;
    if (!this.list.some((o) => o.id === this.selectedId)) this.selectedId = this.list[0]?.id ?? '';
    await this.loadAbilities();
    this.loaded = true;
  }

  async select(id: string): Promise<void> {
    this.selectedId = id;
    sessionStorage.setItem(SELECTED, id);
    await this.loadAbilities();
  }

  reset(): void {
    this.list = [];
    this.abilities = NONE;
    this.loaded = false;
  }

  private async loadAbilities(): Promise<void> {
    const id = this.selectedId;
    if (!id) {
      this.abilities = NONE;
      return;
    }
    const wanted = [
      'write_organization',
      'write_robot',
      'read_robot_config',
      'read_robot_logs',
      'write_fragment',
      'write_location',
    ];
    const reply = await app.checkPermissions({
      permissions: [{ resourceType: 'organization', resourceId: id, permissions: wanted }],
    });
    const granted = new Set(reply.authorizedPermissions.flatMap((p) => p.permissions));
    this.abilities = {
      manageOrganization: granted.has('write_organization'),
      writeRobots: granted.has('write_robot'),
      readConfig: granted.has('read_robot_config'),
      readLogs: granted.has('read_robot_logs'),
      writeFragments: granted.has('write_fragment'),
      writeLocations: granted.has('write_location'),
    };
  }
}

export const organizations = new Organizations();
