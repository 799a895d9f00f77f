// DreamFactory's verb masks, as access rows store them.
export const VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const
export type Verb = (typeof VERBS)[number]

/** The bit of a verb (GET 1, POST 2, PUT 4, PATCH 8, DELETE 16). */
export function bit(verb: Verb): number {
  return 1 << VERBS.indexOf(verb)
}

/** The verbs a mask grants, in order. */
export function verbsOf(mask: number): Verb[] {
  return VERBS.filter((v) => (mask & bit(v)) !== 0)
}

/** The mask of a set of verbs. */
export function maskOf(verbs: Iterable<Verb>): number {
  let m = 0
  for (const v of verbs) m |= bit(v)
  return m
}
