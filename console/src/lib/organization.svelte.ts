import type { appApi } from '@viamrobotics/sdk';
import { app } from './api.js';
import { permissionsOn } from './permissions.js';

const SELECTED = 'flotilla.organization';

/**
 * What the signed-in principal may do across the selected organization (CheckPermissions).
 * Machines and locations are asked about one by one where they are shown: a role held on a
 * location reaches only that location.
 */
export interface Abilities {
  /** Owner-level: members, API keys, organization settings. */
  manageOrganization: boolean;
  writeFragments: boolean;
  /** Create top-level locations. */
  writeLocations: boolean;
}

const NONE: Abilities = { manageOrganization: false, writeFragments: false, writeLocations: false };

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
    const held = (
      await permissionsOn('organization', [id], ['write_organization', 'write_fragment', 'write_location'])
    ).get(id);
    this.abilities = {
      manageOrganization: held?.has('write_organization') ?? false,
      writeFragments: held?.has('write_fragment') ?? false,
      writeLocations: held?.has('write_location') ?? false,
    };
  }
}

export const organizations = new Organizations();
