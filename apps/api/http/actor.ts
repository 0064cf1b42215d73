/**
 * Who made a change, recorded with every version. Until sign-in exists every change is made by this actor; the
 * auth capability replaces it with the signed-in user or API token.
 */
export const ACTOR_ANONYMOUS = 'anonymous';
