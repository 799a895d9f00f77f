// Create or edit a PostgreSQL service: connection fields, "test connection" (the server's own
// answer shown inline, nothing stored), save, and delete after a confirmation.
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api'
import { messageOf, useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link, navigate } from '../router'
import { DeleteRecord } from '../ui'
import { flash } from '../flash'
import { configOf, connectionOf, serviceNameOf, SSL_MODES, type Connection, type Service } from '../services'

type Outcome = { kind: 'ok' | 'error'; text: string } | null

export function ServiceForm(props: { id?: number }) {
  const editing = props.id !== undefined
  const [load] = useLoad<Service | null>(
    () => (editing ? api<Service>('GET', `/api/v2/system/service/${props.id}`) : Promise.resolve(null)),
    [props.id],
  )
  const [name, setName] = useState('')
  // A new service is named after its database until the admin names it.
  const [named, setNamed] = useState(false)
  const [label, setLabel] = useState('')
  const [active, setActive] = useState(true)
  const [conn, setConn] = useState<Connection>(connectionOf({}))
  const [outcome, setOutcome] = useState<Outcome>(null)
  const [busy, setBusy] = useState(false)
  // A new service starts where the admin types first: host and port are already filled in.
  const database = useRef<HTMLInputElement>(null)
  useEffect(() => {
    if (!editing && load.state === 'ready') database.current?.focus()
  }, [load.state])

  useEffect(() => {
    if (load.state === 'ready' && load.data) {
      setName(load.data.name)
      setLabel(load.data.label)
      setActive(load.data.is_active)
      setConn(connectionOf(load.data.config))
    }
  }, [load])

  if (load.state !== 'ready') return <LoadStatus load={load} loading="Loading the service…" />
  const stored = load.data
  const base = stored?.config ?? {}
  const field = (key: keyof Connection) => ({
    value: conn[key],
    onInput: (e: Event) => {
      const value = (e.target as HTMLInputElement).value
      setConn({ ...conn, [key]: value })
      if (key === 'database' && !stored && !named) setName(serviceNameOf(value))
    },
  })

  const run = async (what: () => Promise<void>) => {
    setBusy(true)
    setOutcome(null)
    try {
      await what()
    } catch (e) {
      setOutcome({ kind: 'error', text: messageOf(e) })
    } finally {
      setBusy(false)
    }
  }
  const test = () =>
    run(async () => {
      const r = await api<{ message: string }>('POST', '/api/v2/system/service/test', {
        id: stored?.id,
        type: 'pgsql',
        config: configOf(base, conn),
      })
      setOutcome({ kind: 'ok', text: r.message })
    })
  const save = (e: Event) => {
    e.preventDefault()
    run(async () => {
      const record = { name: name.trim(), label: label.trim() || name.trim(), is_active: active, config: configOf(base, conn) }
      if (stored) {
        await api('PATCH', `/api/v2/system/service/${stored.id}`, record)
        setOutcome({ kind: 'ok', text: 'Saved.' })
      } else {
        const r = await api<{ resource: { id: number }[] }>('POST', '/api/v2/system/service', {
          resource: [{ ...record, type: 'pgsql' }],
        })
        flash(`Service ${record.name} connected.`, { to: '/roles/new', label: 'Next: define a role that reaches its tables' })
        navigate(`/services/${r.resource[0].id}/schema`)
      }
    })
  }

  return (
    <section aria-labelledby="service-title">
      <p>
        <Link to="/services">← Services</Link>
      </p>
      <h1 id="service-title">{stored ? `Service ${stored.name}` : 'New PostgreSQL service'}</h1>
      <form class="grid" onSubmit={save}>
        <label for="svc-name">Name</label>
        <input id="svc-name" required placeholder="named after the database until you name it" pattern="[a-z][a-z0-9_\-]*" aria-describedby="svc-name-help" value={name} onInput={(e) => { setNamed(true); setName((e.target as HTMLInputElement).value) }} />
        <small id="svc-name-help">Lower case; it becomes the URL: /api/v2/name/_table/…</small>
        <label for="svc-label">Label</label>
        <input id="svc-label" aria-describedby="svc-label-help" value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
        <small id="svc-label-help">Optional display name.</small>
        <label for="svc-host">Host</label>
        <input id="svc-host" required {...field('host')} />
        <label for="svc-port">Port</label>
        <input id="svc-port" inputMode="numeric" required {...field('port')} />
        <label for="svc-database">Database</label>
        <input id="svc-database" ref={database} required {...field('database')} />
        <label for="svc-username">Username</label>
        <input id="svc-username" required autocomplete="off" {...field('username')} />
        <label for="svc-password">Password</label>
        <input
          id="svc-password"
          type="password"
          autocomplete="new-password"
          placeholder={stored ? 'unchanged' : ''}
          aria-describedby={stored ? 'svc-password-help' : undefined}
          {...field('password')}
        />
        {stored && <small id="svc-password-help">Leave empty to keep the stored password.</small>}
        <label for="svc-sslmode">TLS (sslmode)</label>
        <select id="svc-sslmode" value={conn.sslmode} onChange={(e) => setConn({ ...conn, sslmode: (e.target as HTMLSelectElement).value })}>
          {SSL_MODES.map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
        <label class="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive((e.target as HTMLInputElement).checked)} /> Active
        </label>
        <div class="actions">
          <button type="button" class="secondary" disabled={busy} onClick={test}>
            Test connection
          </button>
          <button type="submit" disabled={busy}>
            {stored ? 'Save' : 'Create service'}
          </button>
          {stored && (
            <DeleteRecord
              noun="service"
              name={stored.name}
              text="Its API stops at once, and every role's access rows for it are removed. This cannot be undone."
              path={`/api/v2/system/service/${stored.id}`}
              back="/services"
              busy={busy}
              run={run}
            />
          )}
        </div>
        {outcome && (
          <p class={outcome.kind === 'ok' ? 'ok' : 'error'} role={outcome.kind === 'ok' ? 'status' : 'alert'}>
            {outcome.text}
          </p>
        )}
      </form>
    </section>
  )
}
