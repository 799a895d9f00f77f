import { describe, expect, it } from 'vitest'
import { bit, maskOf, verbsOf } from './verbs'

describe('verb masks', () => {
  it('follow DreamFactory bits', () => {
    expect([bit('GET'), bit('POST'), bit('PUT'), bit('PATCH'), bit('DELETE')]).toEqual([1, 2, 4, 8, 16])
  })
  it('round-trip', () => {
    expect(verbsOf(maskOf(['GET', 'PATCH']))).toEqual(['GET', 'PATCH'])
    expect(verbsOf(0)).toEqual([])
    expect(verbsOf(31)).toHaveLength(5)
  })
})
