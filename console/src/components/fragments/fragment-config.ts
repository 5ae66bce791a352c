import { appApi } from '@viamrobotics/sdk';

/** The Fragments page's visibility names. */

export const { FragmentVisibility } = appApi;
export type Visibility = appApi.FragmentVisibility;

/** The visibilities a person chooses from, in the order shown. */
export const VISIBILITIES: { value: Visibility; label: string; hint: string }[] = [
  { value: FragmentVisibility.PRIVATE, label: 'Private', hint: 'only this organization' },
  { value: FragmentVisibility.PUBLIC, label: 'Public', hint: 'listed for everyone' },
  { value: FragmentVisibility.PUBLIC_UNLISTED, label: 'Unlisted', hint: 'anyone with its ID' },
];

export function visibilityLabel(value: Visibility): string {
  return VISIBILITIES.find((v) => v.value === value)?.label ?? 'Unspecified';
}
