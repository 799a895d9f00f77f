import { describe, expect, it } from 'vitest'
import { blankAccess, charIndex, componentOptions, filterText, ruleChoice, ruleOf, tableOf, tablesReached } from './roles'

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
  it('offers each table, the wildcards and each function, in groups', () => {
    const groups = componentOptions(['a'], ['f'])
    expect(groups.map((g) => g.group)).toEqual(['Tables and views', 'Wildcards', 'Functions'])
    expect(groups.flatMap((g) => g.options.map((o) => o.value))).toEqual(['_table/a/*', '_table/*', '*', '_func/*', '_proc/*', '_schema/*', '_func/f'])
    expect(groups[0].options[0].label).toBe('a')
    // No empty group for a schema without functions.
    expect(componentOptions(['a'], []).map((g) => g.group)).toEqual(['Tables and views', 'Wildcards'])
  })
  it('lists the tables a role names or covers on a service', () => {
    const row = (service_id: number | null, component: string) => ({ ...blankAccess(service_id), component })
    expect(tablesReached([row(1, '_table/b/*'), row(2, '_table/c/*')], 1, ['a', 'b', 'c'])).toEqual(['b'])
    expect(tablesReached([row(1, '_table/*')], 1, ['a', 'b'])).toEqual(['a', 'b'])
    expect(tablesReached([row(2, '*')], 1, ['a'])).toEqual([])
    // A row with no verbs shuts its table off: nothing to read there.
    expect(tablesReached([row(1, '_table/b/*'), { ...row(1, '_table/c/*'), verb_mask: 0 }], 1, ['a', 'b', 'c'])).toEqual(['b'])
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
