/** Who is calling: set once per call by the authentication interceptor. */
export type Principal = { kind: 'user'; id: string; email: string } | { kind: 'api-key'; id: string };

/** The name of a principal in messages and logs. */
export const describePrincipal = (p: Principal): string => `${p.kind} ${p.id}`;
