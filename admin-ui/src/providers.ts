// Identity providers as the console edits them: a service of type ldap, adldap, oidc, saml or
// jwt whose config holds the provider's settings and its group → role mapping. Pure helpers,
// unit-tested.

export const PROVIDER_TYPES = [
  { type: 'ldap', label: 'LDAP' },
  { type: 'adldap', label: 'Active Directory' },
  { type: 'oidc', label: 'OpenID Connect' },
  { type: 'saml', label: 'SAML 2.0' },
  { type: 'jwt', label: 'External JWT' },
] as const

export type Kind = 'text' | 'secret' | 'number' | 'list' | 'long' | 'check' | 'choice'

export interface Setting {
  key: string
  label: string
  kind: Kind
  help?: string
  choices?: string[]
  required?: boolean
}

const LDAP: Setting[] = [
  { key: 'host', label: 'Host', kind: 'text', required: true },
  { key: 'port', label: 'Port', kind: 'number', help: '389, or 636 with ldaps' },
  { key: 'tls', label: 'TLS', kind: 'choice', choices: ['starttls', 'ldaps', 'none'] },
  { key: 'ca_cert', label: 'CA certificate (PEM)', kind: 'long', help: 'When the directory’s certificate is not signed by a public CA' },
  { key: 'base_dn', label: 'Base DN', kind: 'text', required: true },
  { key: 'bind_dn', label: 'Service account DN', kind: 'text' },
  { key: 'bind_password', label: 'Service account password', kind: 'secret' },
  { key: 'user_filter', label: 'User filter', kind: 'text', help: 'e.g. (objectClass=person)' },
  { key: 'email_attribute', label: 'E-mail attribute', kind: 'text', help: 'mail by default' },
  { key: 'name_attribute', label: 'Name attribute', kind: 'text' },
]

export const SETTINGS: Record<string, Setting[]> = {
  ldap: LDAP,
  adldap: [...LDAP, { key: 'account_suffix', label: 'Account suffix', kind: 'text', help: 'e.g. @corp.example.com' }],
  oidc: [
    { key: 'discovery_url', label: 'Discovery URL', kind: 'text', required: true, help: 'https://issuer/.well-known/openid-configuration' },
    { key: 'client_id', label: 'Client id', kind: 'text', required: true },
    { key: 'client_secret', label: 'Client secret', kind: 'secret' },
    { key: 'redirect_url', label: 'Redirect URL', kind: 'text', help: 'This server’s /api/v2/user/session?service=NAME, as registered with the provider' },
    { key: 'scopes', label: 'Scopes', kind: 'list', help: 'Comma-separated; openid is always asked for' },
    { key: 'groups_claim', label: 'Groups claim', kind: 'text', help: 'groups by default' },
    { key: 'tenant_id', label: 'Tenant id', kind: 'text', help: 'Entra ID: only this tenant’s people' },
    { key: 'allowed_redirects', label: 'Allowed redirects after sign-in', kind: 'list' },
  ],
  saml: [
    { key: 'idp_metadata_url', label: 'IdP metadata URL', kind: 'text', help: 'Or the three settings below' },
    { key: 'idp_entity_id', label: 'IdP entity id', kind: 'text' },
    { key: 'idp_sso_url', label: 'IdP sign-in URL', kind: 'text' },
    { key: 'idp_x509cert', label: 'IdP certificate (PEM)', kind: 'long' },
    { key: 'sp_entity_id', label: 'Our entity id', kind: 'text' },
    { key: 'email_attribute', label: 'E-mail attribute', kind: 'text' },
    { key: 'groups_attribute', label: 'Groups attribute', kind: 'text' },
    { key: 'allowed_redirects', label: 'Allowed redirects after sign-in', kind: 'list' },
    { key: 'allow_idp_initiated', label: 'Accept sign-ins the IdP starts', kind: 'check' },
  ],
  jwt: [
    { key: 'issuer', label: 'Issuer', kind: 'text', required: true },
    { key: 'audience', label: 'Audience', kind: 'list' },
    { key: 'jwks_url', label: 'JWKS URL', kind: 'text' },
    { key: 'algorithms', label: 'Algorithms', kind: 'list', help: 'e.g. RS256, ES256' },
    { key: 'email_claim', label: 'E-mail claim', kind: 'text' },
    { key: 'groups_claim', label: 'Groups claim', kind: 'text' },
  ],
}

export interface Mapping {
  group: string
  role_id: number
}

/** A setting's stored value as the form shows it. */
export function formValue(s: Setting, v: unknown): string | boolean {
  if (s.kind === 'check') return v === true
  if (v === null || v === undefined) return ''
  if (s.kind === 'list') return Array.isArray(v) ? v.join(', ') : String(v)
  return String(v)
}

/**
 * The config to send: the stored one with the form over it. Empty settings are left out, an
 * empty secret too (the server keeps the stored one), lists split on commas.
 */
export function providerConfig(
  base: Record<string, unknown>,
  type: string,
  form: Record<string, string | boolean>,
  mappings: Mapping[],
  defaultRole: number | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const s of SETTINGS[type] ?? []) {
    const v = form[s.key]
    delete out[s.key]
    if (s.kind === 'check') {
      if (v === true) out[s.key] = true
      continue
    }
    const text = typeof v === 'string' ? v.trim() : ''
    if (text === '') continue
    if (s.kind === 'number') out[s.key] = Number(text)
    else if (s.kind === 'list') out[s.key] = text.split(',').map((x) => x.trim()).filter(Boolean)
    else out[s.key] = text
  }
  out.group_role_map = mappings.filter((m) => m.group.trim()).map((m) => ({ group: m.group.trim(), role_id: m.role_id }))
  if (defaultRole === null) delete out.default_role
  else out.default_role = defaultRole
  return out
}

/** Where an admin tries a browser sign-in with the provider. */
export function signInUrl(type: string, name: string): string | null {
  if (type === 'oidc') return `/api/v2/user/session?service=${encodeURIComponent(name)}`
  if (type === 'saml') return `/api/v2/${encodeURIComponent(name)}/sso`
  return null
}

/** An identity provider that gives a role, as the access review lists it. */
export interface ProviderHolder {
  service_id: number
  service: string
  type: string
  is_active: boolean
  groups: string[]
  apps: number[]
  default: boolean
}

/** Whom a provider gives the role to, in words. */
export function holdersText(p: ProviderHolder): string {
  const parts: string[] = []
  if (p.groups.length > 0) parts.push(`members of ${p.groups.join(', ')}`)
  if (p.apps.length > 0) parts.push(`those calling through app ${p.apps.map((a) => `#${a}`).join(', ')}`)
  if (p.default) parts.push(parts.length > 0 ? 'everyone else it signs in' : 'everyone it signs in')
  return parts.join('; ')
}
