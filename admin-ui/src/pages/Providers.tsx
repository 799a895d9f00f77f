// Identity providers: LDAP/AD, OpenID Connect, SAML and external JWTs, each a service whose
// settings the server checks ("Test settings" reaches the provider, nothing is stored), with
// its group → role mapping. "Test sign-in" asks the directory for a person's groups and the
// role they would get, creating nobody; browser providers open their real sign-in.
import { useEffect, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link, navigate } from '../router'
import type { Service } from '../services'
import { formValue, PROVIDER_TYPES, providerConfig, SETTINGS, signInUrl, type Mapping, type Setting } from '../providers'
import { checkedOf, DeleteRecord, OutcomeLine, useRun, valueOf } from '../ui'
import { useRoles } from './Apps'

const TYPES: string[] = PROVIDER_TYPES.map((p) => p.type)
const labelOf = (type: string) => PROVIDER_TYPES.find((p) => p.type === type)?.label ?? type

export function Providers() {
  const [load] = useLoad(() =>
    api<{ resource: Service[] }>('GET', '/api/v2/system/service').then((r) => r.resource.filter((s) => TYPES.includes(s.type))),
  )
  return (
    <section aria-labelledby="providers-title">
      <div class="heading">
        <h1 id="providers-title">Identity providers</h1>
        <Link to="/providers/new" class="button">
          New identity provider
        </Link>
      </div>
      <p class="muted">People sign in through a directory or a single sign-on provider; their groups decide their role.</p>
      <LoadStatus load={load} loading="Loading identity providers…" />
      {load.state === 'ready' && load.data.length === 0 && <p class="empty">No identity provider: only local users and app keys sign in.</p>}
      {load.state === 'ready' && load.data.length > 0 && (
        <table>
          <caption class="sr-only">Identity providers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Group mappings</th>
              <th scope="col">Active</th>
            </tr>
          </thead>
          <tbody>
            {load.data.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={`/providers/${s.id}`}>{s.name}</Link>
                </td>
                <td>{labelOf(s.type)}</td>
                <td>{Array.isArray(s.config.group_role_map) ? s.config.group_role_map.length : 0}</td>
                <td>{s.is_active ? 'Yes' : 'No'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

export function ProviderForm(props: { id?: number }) {
  const editing = props.id !== undefined
  const [load] = useLoad<Service | null>(
    () => (editing ? api<Service>('GET', `/api/v2/system/service/${props.id}`) : Promise.resolve(null)),
    [props.id],
  )
  const roles = useRoles()
  const [type, setType] = useState('ldap')
  const [name, setName] = useState('')
  const [active, setActive] = useState(true)
  const [form, setForm] = useState<Record<string, string | boolean>>({})
  const [mappings, setMappings] = useState<Mapping[]>([])
  const [defaultRole, setDefaultRole] = useState<number | null>(null)
  const { busy, outcome, run } = useRun()
  useEffect(() => {
    if (load.state !== 'ready' || !load.data) return
    const s = load.data
    setType(s.type)
    setName(s.name)
    setActive(s.is_active)
    setForm(Object.fromEntries((SETTINGS[s.type] ?? []).map((st) => [st.key, formValue(st, s.config[st.key])])))
    setMappings(Array.isArray(s.config.group_role_map) ? (s.config.group_role_map as Mapping[]) : [])
    setDefaultRole(typeof s.config.default_role === 'number' ? s.config.default_role : null)
  }, [load])
  if (load.state !== 'ready') return <LoadStatus load={load} loading="Loading the identity provider…" />
  const stored = load.data
  const roleList = roles.state === 'ready' ? roles.data : []
  const config = () => providerConfig(stored?.config ?? {}, type, form, mappings, defaultRole)
  const test = () =>
    run(async () => {
      const r = await api<{ message: string }>('POST', '/api/v2/system/service/test', { id: stored?.id, type, config: config() })
      return r.message
    })
  const save = (e: Event) => {
    e.preventDefault()
    run(async () => {
      const record = { name: name.trim(), label: name.trim(), is_active: active, config: config() }
      if (stored) {
        await api('PATCH', `/api/v2/system/service/${stored.id}`, record)
        return 'Saved.'
      }
      const r = await api<{ resource: { id: number }[] }>('POST', '/api/v2/system/service', { resource: [{ ...record, type }] })
      navigate(`/providers/${r.resource[0].id}`)
    })
  }
  const field = (s: Setting) => {
    const id = `idp-${s.key}`
    const help = s.help ? `${id}-help` : undefined
    const value = String(form[s.key] ?? '')
    const set = (v: string | boolean) => setForm({ ...form, [s.key]: v })
    if (s.kind === 'check')
      return (
        <label class="check">
          <input type="checkbox" checked={form[s.key] === true} onChange={(e) => set(checkedOf(e))} /> {s.label}
        </label>
      )
    return (
      <>
        <label for={id}>{s.label}</label>
        {s.kind === 'choice' ? (
          <select id={id} value={value || s.choices![0]} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
            {s.choices!.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        ) : s.kind === 'long' ? (
          <textarea id={id} class="mono" rows={4} aria-describedby={help} value={value} onInput={(e) => set(valueOf(e))} />
        ) : s.kind === 'secret' ? (
          <input
            id={id}
            type="password"
            autocomplete="new-password"
            placeholder={stored ? 'unchanged' : ''}
            aria-describedby={help}
            value={value}
            onInput={(e) => set(valueOf(e))}
          />
        ) : (
          <input id={id} autocomplete="off" required={s.required} aria-describedby={help} value={value} onInput={(e) => set(valueOf(e))} />
        )}
        {s.help && <small id={help}>{s.help}</small>}
      </>
    )
  }
  return (
    <section aria-labelledby="idp-title">
      <p>
        <Link to="/providers">← Identity providers</Link>
      </p>
      <h1 id="idp-title">{stored ? `Identity provider ${stored.name}` : 'New identity provider'}</h1>
      <form class="grid" onSubmit={save}>
        <label for="idp-type">Kind</label>
        <select id="idp-type" disabled={!!stored} value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
          {PROVIDER_TYPES.map((p) => (
            <option value={p.type}>{p.label}</option>
          ))}
        </select>
        <label for="idp-name">Name</label>
        <input id="idp-name" required pattern="[a-z][a-z0-9_\-]*" value={name} onInput={(e) => setName(valueOf(e))} />
        {(SETTINGS[type] ?? []).map(field)}
        <fieldset class="check">
          <legend>Groups → roles</legend>
          {mappings.map((m, i) => (
            <div class="actions" key={i}>
              <input
                aria-label={`Group of mapping ${i + 1}`}
                class="grow"
                placeholder="cn=sales,ou=groups,dc=example,dc=org"
                value={m.group}
                onInput={(e) => setMappings(mappings.map((x, j) => (j === i ? { ...x, group: valueOf(e) } : x)))}
              />
              <select
                aria-label={`Role of mapping ${i + 1}`}
                value={m.role_id}
                onChange={(e) => setMappings(mappings.map((x, j) => (j === i ? { ...x, role_id: Number((e.target as HTMLSelectElement).value) } : x)))}
              >
                {roleList.map((r) => (
                  <option value={r.id}>{r.name}</option>
                ))}
              </select>
              <button type="button" class="secondary" onClick={() => setMappings(mappings.filter((_, j) => j !== i))}>
                Remove<span class="sr-only"> mapping {i + 1}</span>
              </button>
            </div>
          ))}
          <button type="button" class="secondary" disabled={roleList.length === 0} onClick={() => setMappings([...mappings, { group: '', role_id: roleList[0].id }])}>
            Add a group mapping
          </button>
          <p>
            <label for="idp-default">Role when no group matches</label>{' '}
            <select id="idp-default" value={defaultRole ?? ''} onChange={(e) => setDefaultRole((e.target as HTMLSelectElement).value ? Number((e.target as HTMLSelectElement).value) : null)}>
              <option value="">None (refuse the sign-in)</option>
              {roleList.map((r) => (
                <option value={r.id}>{r.name}</option>
              ))}
            </select>
          </p>
        </fieldset>
        <label class="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(checkedOf(e))} /> Active
        </label>
        <div class="actions">
          <button type="button" class="secondary" disabled={busy} onClick={test}>
            Test settings
          </button>
          <button type="submit" disabled={busy}>
            {stored ? 'Save' : 'Create identity provider'}
          </button>
          {stored && (
            <DeleteRecord
              noun="identity provider"
              name={stored.name}
              text="Nobody can sign in through it any more; its users keep their records."
              path={`/api/v2/system/service/${stored.id}`}
              back="/providers"
              busy={busy}
              run={run}
            />
          )}
        </div>
        <OutcomeLine outcome={outcome} />
      </form>
      {stored && <TestSignIn service={stored} />}
    </section>
  )
}

interface TestResult {
  success: boolean
  message: string
  email: string | null
  name: string | null
  groups: string[]
  role: { id: number; name: string; by: string } | null
}

function TestSignIn(props: { service: Service }) {
  const { service } = props
  const [user, setUser] = useState('')
  const [password, setPassword] = useState('')
  const [result, setResult] = useState<TestResult | null>(null)
  const { busy, outcome, run } = useRun()
  const url = signInUrl(service.type, service.name)
  if (service.type === 'jwt') return null
  return (
    <section aria-labelledby="test-title">
      <h2 id="test-title">Test sign-in</h2>
      {url ? (
        <p>
          <a href={url} target="_blank" rel="noopener">
            Open the provider’s sign-in
          </a>{' '}
          in a new tab; the answer shows the session and role Rampart gives.
        </p>
      ) : (
        <form
          class="grid"
          onSubmit={(e) => {
            e.preventDefault()
            setResult(null)
            run(async () => {
              setResult(await api<TestResult>('POST', `/api/v2/system/service/${service.id}/test-login`, { username: user.trim(), password }))
            })
          }}
        >
          <p class="muted check">The directory checks the password; nobody is created and no session is issued.</p>
          <label for="test-user">Username</label>
          <input id="test-user" required autocomplete="off" value={user} onInput={(e) => setUser(valueOf(e))} />
          <label for="test-password">Password</label>
          <input id="test-password" type="password" required autocomplete="off" value={password} onInput={(e) => setPassword(valueOf(e))} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Test sign-in
            </button>
          </div>
          <OutcomeLine outcome={outcome} />
          {result && (
            <div class="check" role="status">
              <p class={result.role ? 'ok' : 'error'}>{result.message}</p>
              {result.success && (
                <>
                  <p>
                    {result.name ?? '—'} · {result.email ?? 'no e-mail'}
                  </p>
                  <p>Groups: {result.groups.length ? result.groups.join('; ') : 'none'}</p>
                </>
              )}
            </div>
          )}
        </form>
      )}
    </section>
  )
}
