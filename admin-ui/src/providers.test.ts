import { describe, expect, it } from 'vitest'
import { formValue, holdersText, providerConfig, SETTINGS, signInUrl } from './providers'

describe('identity provider config', () => {
  it('keeps stored secrets unless a new one is typed, and splits lists', () => {
    const base = { host: 'old', port: 389, bind_dn: 'cn=svc', user_filter: '(x=1)' }
    const form = { host: ' ldap.example.org ', port: '636', tls: 'ldaps', bind_password: '', scopes: '', user_filter: '' }
    const out = providerConfig(base, 'ldap', form, [{ group: ' cn=sales ', role_id: 3 }, { group: '', role_id: 4 }], 9)
    expect(out).toEqual({ host: 'ldap.example.org', port: 636, tls: 'ldaps', group_role_map: [{ group: 'cn=sales', role_id: 3 }], default_role: 9 })
    expect(out).not.toHaveProperty('bind_password')
    const oidc = providerConfig({}, 'oidc', { scopes: 'email, profile', client_secret: 's3' }, [], null)
    expect(oidc).toEqual({ scopes: ['email', 'profile'], client_secret: 's3', group_role_map: [] })
  })
  it('shows stored values in the form', () => {
    const scopes = SETTINGS.oidc.find((s) => s.key === 'scopes')!
    expect(formValue(scopes, ['a', 'b'])).toBe('a, b')
    const check = SETTINGS.saml.find((s) => s.key === 'allow_idp_initiated')!
    expect(formValue(check, undefined)).toBe(false)
  })
  it('knows where a browser sign-in starts', () => {
    expect(signInUrl('oidc', 'corp')).toBe('/api/v2/user/session?service=corp')
    expect(signInUrl('saml', 'corp')).toBe('/api/v2/corp/sso')
    expect(signInUrl('ldap', 'corp')).toBeNull()
  })
  it('says whom a provider gives a role to', () => {
    const p = { service_id: 3, service: 'corp', type: 'ldap', is_active: true, groups: [] as string[], apps: [] as number[], default: false }
    expect(holdersText({ ...p, groups: ['cn=sales', 'cn=ops'] })).toBe('members of cn=sales, cn=ops')
    expect(holdersText({ ...p, apps: [7], default: true })).toBe('those calling through app #7; everyone else it signs in')
    expect(holdersText({ ...p, default: true })).toBe('everyone it signs in')
  })
})
