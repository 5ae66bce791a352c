import { invalidArgument } from '../domain/errors.js';
import type { RegistryItemType } from '../domain/registry.js';
import { PackageType } from './package-service.generated.js';

/** viam.app.packages.v1.PackageType as registry item types. */
export const PACKAGE_TYPES: Record<number, RegistryItemType> = {
  [PackageType.ARCHIVE]: 'archive',
  [PackageType.ML_MODEL]: 'ml_model',
  [PackageType.MODULE]: 'module',
  [PackageType.SLAM_MAP]: 'slam_map',
  [PackageType.ML_TRAINING]: 'ml_training',
};
export const PACKAGE_TYPE_NUMBERS = Object.fromEntries(
  Object.entries(PACKAGE_TYPES).map(([n, t]) => [t, Number(n)]),
) as Record<RegistryItemType, PackageType>;

/**
 * An enum value from the wire: UNSPECIFIED (0) reads as undefined, a number the API does not
 * define is INVALID_ARGUMENT.
 */
export function enumOf<T>(table: Record<number, T>, value: number, field: string): T | undefined {
  if (value === 0) return undefined;
  const known = table[value];
  if (known === undefined) throw invalidArgument(`${field} has an unknown value ${value}`);
  return known;
}
