// CORS entries and rate limits, as described for the records page.
import { api } from '../api'
import { useLoad } from '../load'
import { Records, type RecordsSpec } from './Records'

const LIMIT_TYPES = [
  'instance',
  'instance.user',
  'instance.each_user',
  'instance.user.service',
  'instance.each_user.service',
  'instance.service',
  'instance.service.endpoint',
  'instance.user.service.endpoint',
  'instance.each_user.service.endpoint',
  'instance.role',
  'instance.app',
  'instance.each_app',
]
const PERIODS = ['minute', 'hour', 'day', '7-day', '30-day']

const CORS: RecordsSpec = {
  title: 'CORS',
  noun: 'entry',
  path: '/api/v2/system/cors',
  about: 'Which browser origins may call which paths, with which verbs and headers. Without an entry, browsers keep other sites’ pages out.',
  empty: 'No entry: no other site’s page can call this API from a browser.',
  columns: [
    { label: 'Path', value: (r) => String(r.path) },
    { label: 'Origins', value: (r) => String(r.origin) },
    { label: 'Verbs', value: (r) => (Array.isArray(r.method) ? r.method.join(', ') : '') },
    { label: 'Enabled', value: (r) => (r.enabled ? 'Yes' : 'No') },
  ],
  fields: [
    { key: 'path', label: 'Path', kind: 'text', required: true, help: '* for every path, or e.g. /api/v2/db/*' },
    { key: 'origin', label: 'Origins', kind: 'text', required: true, help: 'Comma-separated, e.g. https://app.example.com' },
    { key: 'method', label: 'Verbs', kind: 'list', help: 'Comma-separated: GET, POST, PUT, PATCH, DELETE' },
    { key: 'header', label: 'Request headers', kind: 'text' },
    { key: 'exposed_header', label: 'Exposed headers', kind: 'text' },
    { key: 'max_age', label: 'Preflight cache (seconds)', kind: 'number' },
    { key: 'description', label: 'Description', kind: 'text' },
    { key: 'supports_credentials', label: 'Allow credentials', kind: 'checkbox' },
    { key: 'enabled', label: 'Enabled', kind: 'checkbox' },
  ],
  blank: { path: '*', origin: '', method: ['GET'], header: '*', exposed_header: '', max_age: 3600, description: null, supports_credentials: false, enabled: true },
  name: (r) => `the CORS entry for ${r.path} from ${r.origin}`,
}

export function Cors() {
  return <Records spec={CORS} />
}

type Named = { id: number; name: string }

export function Limits() {
  const [refs] = useLoad(() =>
    Promise.all(
      ['role', 'app', 'service', 'user'].map((r) =>
        api<{ resource: (Named & { email?: string })[] }>('GET', `/api/v2/system/${r}`).then((x) => x.resource),
      ),
    ),
  )
  const [roles, apps, services, users] = refs.state === 'ready' ? refs.data : [[], [], [], []]
  const choices = (items: (Named & { email?: string })[]) => [
    { value: '', label: '—' },
    ...items.map((i) => ({ value: String(i.id), label: i.email ?? i.name })),
  ]
  const spec: RecordsSpec = {
    title: 'Limits',
    noun: 'limit',
    path: '/api/v2/system/limit',
    about: 'Requests allowed per period, for the whole instance, a user (or each user), a role, an app (or each app), a service or an endpoint.',
    empty: 'No limit: requests are only bounded by the server’s capacity.',
    columns: [
      { label: 'Name', value: (r) => String(r.name) },
      { label: 'Type', value: (r) => String(r.type) },
      { label: 'Rate', value: (r) => `${r.rate} per ${r.period}` },
      { label: 'Active', value: (r) => (r.is_active ? 'Yes' : 'No') },
    ],
    fields: [
      { key: 'name', label: 'Name', kind: 'text', required: true },
      { key: 'type', label: 'Type', kind: 'select', options: LIMIT_TYPES.map((t) => ({ value: t, label: t })) },
      { key: 'rate', label: 'Requests', kind: 'number', required: true },
      { key: 'period', label: 'Per', kind: 'select', options: PERIODS.map((p) => ({ value: p, label: p })) },
      { key: 'user_id', label: 'User', kind: 'select', options: choices(users) },
      { key: 'role_id', label: 'Role', kind: 'select', options: choices(roles) },
      { key: 'app_id', label: 'App', kind: 'select', options: choices(apps) },
      { key: 'service_id', label: 'Service', kind: 'select', options: choices(services) },
      { key: 'endpoint', label: 'Endpoint', kind: 'text', help: 'For endpoint limits, e.g. _table/orders' },
      { key: 'verb', label: 'Verb', kind: 'select', options: [{ value: '', label: 'any' }, ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((v) => ({ value: v, label: v }))] },
      { key: 'description', label: 'Description', kind: 'text' },
      { key: 'is_active', label: 'Active', kind: 'checkbox' },
    ],
    blank: { name: '', type: 'instance', rate: 1000, period: 'minute', user_id: null, role_id: null, app_id: null, service_id: null, endpoint: null, verb: null, description: null, is_active: true },
    name: (r) => `limit ${r.name}`,
  }
  return <Records spec={spec} />
}

const LOOKUPS: RecordsSpec = {
  title: 'Lookups',
  noun: 'lookup',
  path: '/api/v2/system/lookup',
  about:
    'Named values every role’s row filters can use as {name} (e.g. tenant_id = {tenant}). A role’s or a user’s own lookup of the same name wins. A private value is never shown again and never reaches a filter.',
  empty: 'No global lookup. Roles and users can still have their own.',
  columns: [
    { label: 'Name', value: (r) => `{${r.name}}` },
    { label: 'Value', value: (r) => String(r.value) },
    { label: 'Private', value: (r) => (r.private ? 'Yes' : 'No') },
    { label: 'Description', value: (r) => String(r.description ?? '') },
  ],
  fields: [
    { key: 'name', label: 'Name', kind: 'text', required: true, help: 'Letters, digits, _ and . — used as {name}' },
    { key: 'value', label: 'Value', kind: 'text', help: 'A private value reads as ********** — leave it so to keep it' },
    { key: 'description', label: 'Description', kind: 'text' },
    { key: 'private', label: 'Private (a secret: never shown, never in filters)', kind: 'checkbox' },
  ],
  blank: { name: '', value: '', description: null, private: false },
  name: (r) => `lookup ${r.name}`,
}

export function Lookups() {
  return <Records spec={LOOKUPS} />
}
