import { describe, expect, it } from 'vitest'
import { match } from './match'

describe('route patterns', () => {
  it('capture parameters', () => {
    expect(match('/services/:id/schema', '/services/12/schema')).toEqual({ id: '12' })
    expect(match('/services', '/services/')).toEqual({})
    expect(match('/services/:id', '/services/12/schema')).toBeNull()
    expect(match('/services/new', '/services/12')).toBeNull()
  })
})
