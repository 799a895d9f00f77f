import { describe, expect, it } from 'vitest'
import { charIndex, componentOptions, filterText, ruleChoice, ruleOf, tableOf } from './roles'

describe('role helpers', () => {
  it('round-trips field rules through select choices', () => {
    for (const rule of ['hidden', 'read_only', { mask: 'last4' }] as const) expect(ruleOf(ruleChoice(rule))).toEqual(rule)
    expect(ruleChoice(undefined)).toBe('')
    expect(ruleOf('')).toBeUndefined()
  })
  it('names the table of a component', () => {
    expect(tableOf('_table/orders/*')).toBe('orders')
    expect(tableOf('_table/orders')).toBe('orders')
    expect(tableOf('_table/*')).toBeNull()
    expect(tableOf('*')).toBeNull()
  })
  it('offers wildcards and each table', () => {
    expect(componentOptions(['a'], ['f'])).toEqual(['*', '_table/*', '_func/*', '_proc/*', '_schema/*', '_table/a/*', '_func/f'])
  })
  it('writes list filters as text', () => {
    const list = [
      { name: 'tenant_id', operator: '=', value: '{tenant}' },
      { name: 'name', operator: 'like', value: "O'B%" },
      { name: 'n', operator: '>', value: 3 },
    ]
    expect(filterText(list, 'AND')).toBe("tenant_id = {tenant} and name like 'O''B%' and n > 3")
    expect(filterText('a = 1', 'OR')).toBe('a = 1')
  })
  it('maps byte offsets to characters', () => {
    expect(charIndex("name = 'é' and", 11)).toBe(10)
    expect(charIndex('abc', 2)).toBe(2)
  })
})
