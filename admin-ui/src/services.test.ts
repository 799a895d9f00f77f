import { describe, expect, it } from 'vitest'
import { configOf, connectionOf, serviceNameOf } from './services'

describe('service config', () => {
  it('keeps keys the form does not edit and leaves an empty password out', () => {
    const base = { host: 'db', port: 5432, database: 'shop', username: 'api', max_records: 500 }
    const c = connectionOf(base)
    expect(c.password).toBe('')
    c.host = ' db2 '
    expect(configOf(base, c)).toEqual({ host: 'db2', port: 5432, database: 'shop', username: 'api', sslmode: 'prefer', max_records: 500 })
  })
  it('sends a new password and a numeric port', () => {
    const c = { ...connectionOf({}), port: '6432', password: 'pw' }
    expect(configOf({}, c)).toMatchObject({ port: 6432, password: 'pw' })
  })
})

describe('service names from databases', () => {
  it('are valid service names', () => {
    expect(serviceNameOf('trial_shop')).toBe('trial_shop')
    expect(serviceNameOf('Sales DB 2024')).toBe('sales_db_2024')
    expect(serviceNameOf('2024-data')).toBe('data')
  })
})
