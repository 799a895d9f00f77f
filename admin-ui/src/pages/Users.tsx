// Users: search, create, edit, disable, and their role for each app.
import { useEffect, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link, navigate } from '../router'
import { checkedOf, DeleteRecord, OutcomeLine, useFinder, useRun, valueOf } from '../ui'
import { useRoles, type App } from './Apps'
import { LookupsEditor, useLookups } from './LookupsEditor'
import type { Lookup } from '../roles'

interface AppRole {
  id?: number
  app_id: number
  role_id: number
}
interface User {
  id: number
  name: string
  email: string
  username: string | null
  is_active: boolean
  last_login_date: string | null
  provider_service_id: number | null
  user_to_app_to_role_by_user_id?: AppRole[]
  lookup_by_user_id?: Lookup[]
}

export function Users() {
  const [load] = useLoad(() => api<{ resource: User[] }>('GET', '/api/v2/system/user').then((r) => r.resource))
  const users = load.state === 'ready' ? load.data : []
  const { find, setFind, visible, more } = useFinder(users, (u) => `${u.name} ${u.email} ${u.username ?? ''}`)
  return (
    <section aria-labelledby="users-title">
      <div class="heading">
        <h1 id="users-title">Users</h1>
        <Link to="/users/new" class="button">
          New user
        </Link>
      </div>
      <LoadStatus load={load} loading="Loading users…" />
      {load.state === 'ready' && users.length === 0 && <p class="empty">No user yet. Users sign in with a password or through an identity provider.</p>}
      {users.length > 0 && (
        <>
          <label for="user-find">Search users</label>{' '}
          <input id="user-find" type="search" value={find} onInput={(e) => setFind(valueOf(e))} />
          <table>
            <caption class="sr-only">Users</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Name</th>
                <th scope="col">Signs in with</th>
                <th scope="col">Active</th>
              </tr>
            </thead>
            <tbody>
              {visible.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link to={`/users/${u.id}`}>{u.email}</Link>
                  </td>
                  <td>{u.name}</td>
                  <td>{u.provider_service_id ? 'identity provider' : 'password'}</td>
                  <td>{u.is_active ? 'Yes' : 'No'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {more}
        </>
      )}
    </section>
  )
}

export function UserForm(props: { id?: number }) {
  const editing = props.id !== undefined
  const [load] = useLoad<User | null>(
    () => (editing ? api<User>('GET', `/api/v2/system/user/${props.id}?related=user_to_app_to_role_by_user_id,lookup_by_user_id`) : Promise.resolve(null)),
    [props.id],
  )
  const [apps] = useLoad(() => api<{ resource: App[] }>('GET', '/api/v2/system/app').then((r) => r.resource))
  const roles = useRoles()
  const [email, setEmail] = useState('')
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const [active, setActive] = useState(true)
  const [appRoles, setAppRoles] = useState<AppRole[]>([])
  const [removed, setRemoved] = useState<number[]>([])
  const lookups = useLookups('user_id')
  const { busy, outcome, run } = useRun()
  useEffect(() => {
    if (load.state !== 'ready' || !load.data) return
    lookups.reset(load.data.lookup_by_user_id ?? [])
    setEmail(load.data.email)
    setName(load.data.name)
    setActive(load.data.is_active)
    setAppRoles(load.data.user_to_app_to_role_by_user_id ?? [])
  }, [load])
  if (load.state !== 'ready') return <LoadStatus load={load} loading="Loading the user…" />
  const stored = load.data
  const appList = apps.state === 'ready' ? apps.data : []
  const roleList = roles.state === 'ready' ? roles.data : []

  const save = (e: Event) => {
    e.preventDefault()
    run(async () => {
      const record: Record<string, unknown> = {
        email: email.trim(),
        name: name.trim(),
        is_active: active,
        user_to_app_to_role_by_user_id: [...appRoles, ...removed.map((id) => ({ id, user_id: null }))],
        lookup_by_user_id: lookups.changes(),
      }
      if (password) record.password = password
      if (stored) {
        await api('PATCH', `/api/v2/system/user/${stored.id}`, record)
        navigate('/users')
      } else {
        await api('POST', '/api/v2/system/user', { resource: [record] })
        navigate('/users')
      }
    })
  }
  return (
    <section aria-labelledby="user-title">
      <p>
        <Link to="/users">← Users</Link>
      </p>
      <h1 id="user-title">{stored ? `User ${stored.email}` : 'New user'}</h1>
      <form class="grid" onSubmit={save}>
        <label for="user-email">Email</label>
        <input id="user-email" type="email" required value={email} onInput={(e) => setEmail(valueOf(e))} />
        <label for="user-name">Display name</label>
        <input id="user-name" value={name} onInput={(e) => setName(valueOf(e))} />
        <label for="user-password">Password</label>
        <input
          id="user-password"
          type="password"
          autocomplete="new-password"
          placeholder={stored ? 'unchanged' : ''}
          aria-describedby="user-password-help"
          value={password}
          onInput={(e) => setPassword(valueOf(e))}
        />
        <small id="user-password-help">{stored ? 'Leave empty to keep it. ' : ''}At least 12 characters, not a common password.</small>
        <label class="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(checkedOf(e))} /> Active (a disabled user cannot sign in)
        </label>
        <fieldset class="check">
          <legend>Role for each app</legend>
          {appRoles.length === 0 && <p class="muted">None: the user gets each app's default role.</p>}
          {appRoles.map((ar, i) => (
            <div class="actions" key={ar.id ?? `new-${i}`}>
              <select aria-label={`App of assignment ${i + 1}`} value={ar.app_id} onChange={(e) => setAppRoles(appRoles.map((x, j) => (j === i ? { ...x, app_id: Number((e.target as HTMLSelectElement).value) } : x)))}>
                {appList.map((a) => (
                  <option value={a.id}>{a.name}</option>
                ))}
              </select>
              <select aria-label={`Role of assignment ${i + 1}`} value={ar.role_id} onChange={(e) => setAppRoles(appRoles.map((x, j) => (j === i ? { ...x, role_id: Number((e.target as HTMLSelectElement).value) } : x)))}>
                {roleList.map((r) => (
                  <option value={r.id}>{r.name}</option>
                ))}
              </select>
              <button
                type="button"
                class="secondary"
                onClick={() => {
                  if (ar.id) setRemoved([...removed, ar.id])
                  setAppRoles(appRoles.filter((_, j) => j !== i))
                }}
              >
                Remove<span class="sr-only"> assignment {i + 1}</span>
              </button>
            </div>
          ))}
          <button
            type="button"
            class="secondary"
            disabled={appList.length === 0 || roleList.length === 0}
            onClick={() => setAppRoles([...appRoles, { app_id: appList[0].id, role_id: roleList[0].id }])}
          >
            Add a role for an app
          </button>
        </fieldset>
        <div class="check">
          <LookupsEditor lookups={lookups} />
        </div>
        <div class="actions">
          <button type="submit" disabled={busy}>
            {stored ? 'Save user' : 'Create user'}
          </button>
          {stored && (
            <DeleteRecord
              noun="user"
              name={stored.email}
              text="Their sessions end at once. To keep their history but stop sign-in, clear “Active” instead."
              path={`/api/v2/system/user/${stored.id}`}
              back="/users"
              busy={busy}
              run={run}
            />
          )}
        </div>
        <OutcomeLine outcome={outcome} />
      </form>
    </section>
  )
}
