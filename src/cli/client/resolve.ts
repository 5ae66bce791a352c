import { isUuid } from '../../domain/ids.js';
import type { CliContext } from './context.js';
import type { Session } from './connection.js';
import { requiredTarget, targetValue } from './options.js';

/** The organizations to search for a name: the one given or the default, else every one visible. */
async function organizationsToSearch(ctx: CliContext, s: Session, organization: string | undefined) {
  if (organization) return [organization];
  try {
    return [await ctx.organizationId(undefined)];
  } catch {
    return (await s.app.listOrganizations({})).organizations.map((o) => o.id);
  }
}

function single<T extends { id: string }>(found: readonly T[], what: string, name: string): string {
  const [first, second] = found;
  if (!first) throw new Error(`no ${what} named "${name}" is visible to you`);
  if (second) throw new Error(`several ${what}s are named "${name}"; name it by id`);
  return first.id;
}

/** The machines of the organizations searched, with their location. */
async function machinesOf(ctx: CliContext, s: Session, organization: string | undefined) {
  const machines: { id: string; name: string; locationId: string }[] = [];
  for (const organizationId of await organizationsToSearch(ctx, s, organization)) {
    for (const location of (await s.app.listLocations({ organizationId })).locations) {
      for (const robot of (await s.app.listRobots({ locationId: location.id })).robots) {
        machines.push({ id: robot.id, name: robot.name, locationId: location.id });
      }
    }
  }
  return machines;
}

/** A machine named by id or by name (searched in the organization given, the default, or all). */
export async function machineIdOf(
  ctx: CliContext,
  s: Session,
  value: string,
  organization?: string,
): Promise<string> {
  if (isUuid(value)) return value;
  const machines = await machinesOf(ctx, s, organization);
  return single(
    machines.filter((m) => m.name === value),
    'machine',
    value,
  );
}

/** A part named by id or by name (searched like machines). */
export async function partIdOf(
  ctx: CliContext,
  s: Session,
  value: string,
  organization?: string,
): Promise<string> {
  if (isUuid(value)) return value;
  const parts: { id: string; name: string }[] = [];
  for (const machine of await machinesOf(ctx, s, organization)) {
    parts.push(...(await s.app.getRobotParts({ robotId: machine.id })).parts.filter((p) => p.name === value));
  }
  return single(parts, 'part', value);
}

/** A fragment named by id, or by name (among those of the given visibilities, searched like machines). */
export async function fragmentIdOf(
  ctx: CliContext,
  s: Session,
  value: string,
  visibilities: readonly number[],
): Promise<string> {
  if (isUuid(value)) return value;
  const found: { id: string }[] = [];
  for (const organizationId of await organizationsToSearch(ctx, s, undefined)) {
    const { fragments } = await s.app.listFragments({
      organizationId,
      fragmentVisibility: [...visibilities],
    });
    found.push(...fragments.filter((f) => f.name === value));
  }
  return single(found, 'fragment', value);
}

/** The machine a command names with `--machine` (id or name), looked up in `--organization`. */
export const machineNamed = (ctx: CliContext, s: Session, options: Record<string, unknown>) =>
  machineIdOf(ctx, s, requiredTarget(options, 'machine'), targetValue(options, 'organization'));

/** The part a command names with `--part` (id or name), looked up in `--organization`. */
export const partNamed = (ctx: CliContext, s: Session, options: Record<string, unknown>) =>
  partIdOf(ctx, s, requiredTarget(options, 'part'), targetValue(options, 'organization'));
