// MCP authorization: the clients registered to act for users (each in an app whose role rules
// apply) and the grants users gave them, which an admin can revoke.
import { api } from '../api'
import { useLoad } from '../load'
import { Records, type RecordsSpec } from './Records'

type Named = { id: number; name: string; email?: string }

export function Agents() {
  const [refs] = useLoad(() =>
    Promise.all(
      ['app', 'user', 'role'].map((r) => api<{ resource: Named[] }>('GET', `/api/v2/system/${r}`).then((x) => x.resource)),
    ),
  )
  const [apps, users, roles] = refs.state === 'ready' ? refs.data : [[], [], []]
  const nameOf = (items: Named[], id: unknown) => {
    const found = items.find((i) => i.id === id)
    return found ? (found.email ?? found.name) : `#${String(id)}`
  }
  const clients: RecordsSpec = {
    title: 'MCP clients',
    noun: 'client',
    path: '/api/v2/system/oauth_client',
    about:
      'Agents (IDEs, hosted assistants) that connect to /mcp with MCP authorization: a person signs in, sees what the client would reach, and allows it. The client then acts as that person, under their role for the client’s app.',
    empty: 'No client registered: agents connect with an app’s API key only.',
    columns: [
      { label: 'Name', value: (r) => String(r.name) },
      { label: 'Client ID', value: (r) => String(r.client_id) },
      { label: 'App', value: (r) => nameOf(apps, r.app_id) },
      { label: 'Redirect URIs', value: (r) => (Array.isArray(r.redirect_uris) ? r.redirect_uris.join(', ') : '') },
      { label: 'Active', value: (r) => (r.is_active ? 'Yes' : 'No') },
    ],
    fields: [
      { key: 'name', label: 'Name', kind: 'text', required: true, help: 'Shown to people on the consent page' },
      {
        key: 'app_id',
        label: 'App',
        kind: 'select',
        options: [{ value: '', label: '—' }, ...apps.map((a) => ({ value: String(a.id), label: a.name }))],
      },
      {
        key: 'redirect_uris',
        label: 'Redirect URIs',
        kind: 'list',
        required: true,
        help: 'Comma-separated; https, or http://127.0.0.1/… for desktop clients (any port)',
      },
      { key: 'client_id', label: 'Client ID', kind: 'text', help: 'Leave as generated, or the ID the client was built with' },
      { key: 'is_active', label: 'Active', kind: 'checkbox' },
    ],
    blank: { name: '', app_id: apps[0]?.id ?? null, redirect_uris: ['http://127.0.0.1/callback'], client_id: null, is_active: true },
    name: (r) => `client ${r.name}`,
  }
  const grants: RecordsSpec = {
    title: 'Grants',
    noun: 'grant',
    path: '/api/v2/system/oauth_grant',
    about: 'What each person allowed each client. Revoking one stops its tokens at the next call.',
    empty: 'No grant in force.',
    columns: [
      { label: 'Person', value: (r) => nameOf(users, r.user_id) },
      { label: 'Client', value: (r) => String(r.client_name) },
      { label: 'Role', value: (r) => nameOf(roles, r.role_id) },
      { label: 'Scopes', value: (r) => (Array.isArray(r.scopes) ? r.scopes.join(' ') : '') },
      { label: 'Allowed', value: (r) => String(r.created_date ?? '') },
      { label: 'Last used', value: (r) => String(r.last_used_date ?? '—') },
    ],
    fields: [],
    blank: {},
    name: (r) => `the grant of ${nameOf(users, r.user_id)} to ${r.client_name}`,
    fixed: true,
    removal: { action: 'Revoke', text: 'The client’s tokens stop working at its next call.', done: 'Revoked.' },
  }
  return (
    <>
      <h1>MCP authorization</h1>
      <Records spec={clients} level={2} />
      <Records spec={grants} level={2} />
    </>
  )
}
