/** Longest DNS label. */
const MAX_LABEL = 63;

/**
 * A part's DNS name, derived from its name: lowercased, every run of characters outside
 * [a-z0-9] replaced by one dash, dashes trimmed at both ends, cut to 63 characters. Empty when
 * the name holds no letter or digit at all.
 */
export function dnsNameOf(partName: string): string {
  return partName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_LABEL)
    .replace(/-+$/, '');
}

/** The part's addresses: `<dns>.<location>.<domain>` and `<dns>.<location>.local.<domain>`. */
export function partAddresses(
  dnsName: string,
  locationId: string,
  domain: string,
): { fqdn: string; localFqdn: string } {
  return {
    fqdn: `${dnsName}.${locationId}.${domain}`,
    localFqdn: `${dnsName}.${locationId}.local.${domain}`,
  };
}
