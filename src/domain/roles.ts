/** The roles a user or API key can hold, and what they can be held on. */

/** Who holds a role: a user (by id) or an API key (by id). */
export type IdentityType = 'user' | 'api-key';

/** What a role is held on; a role reaches everything below it. */
export type ResourceType = 'organization' | 'location' | 'robot';

export type RoleName = 'owner' | 'operator';
