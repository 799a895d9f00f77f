// One app: its settings, its key (shown once after it is created or regenerated, with a copy
// button), and how to connect an agent with it.
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link, navigate } from '../router'
import { agentConfigs, tryCommand } from '../agents'
import { tableOf, type Role } from '../roles'
import type { Service } from '../services'
import { takeKey } from '../keys'
import { checkedOf, Confirm, OutcomeLine, useRun } from '../ui'
import { AppFields, appRecord, type App, type AppSettings } from './Apps'

export function AppDetail(props: { id: number }) {
  const [load, reload] = useLoad(() => api<App>('GET', `/api/v2/system/app/${props.id}`), [props.id])
  const [key, setKey] = useState<string | null>(() => takeKey(props.id))
  const [settings, setSettings] = useState<AppSettings>({ name: '', description: '', role: '', readOnly: false })
  const [active, setActive] = useState(true)
  const [confirm, setConfirm] = useState<'regenerate' | 'delete' | null>(null)
  const { busy, outcome, run } = useRun()
  useEffect(() => {
    if (load.state !== 'ready') return
    const a = load.data
    setSettings({ name: a.name, description: a.description ?? '', role: a.role_id === null ? '' : String(a.role_id), readOnly: a.read_only })
    setActive(a.is_active)
  }, [load])
  if (load.state !== 'ready') return <LoadStatus load={load} loading="Loading the app…" />
  const app = load.data

  const save = (e: Event) => {
    e.preventDefault()
    run(async () => {
      await api('PATCH', `/api/v2/system/app/${app.id}`, { ...appRecord(settings), is_active: active })
      reload()
      return 'Saved.'
    })
  }
  return (
    <section aria-labelledby="app-title">
      <p>
        <Link to="/apps">← Apps</Link>
      </p>
      <h1 id="app-title">App {app.name}</h1>
      {key && <KeyPanel appKey={key} roleId={app.role_id} />}
      <form class="grid" onSubmit={save}>
        <AppFields value={settings} onChange={setSettings} />
        <label class="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(checkedOf(e))} /> Active (an inactive app's key is refused)
        </label>
        <div class="actions">
          <button type="submit" disabled={busy}>
            Save
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => setConfirm('regenerate')}>
            Regenerate key
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => setConfirm('delete')}>
            Delete app
          </button>
        </div>
        <OutcomeLine outcome={outcome} />
      </form>
      {confirm === 'regenerate' && (
        <Confirm
          title={`Regenerate the key of ${app.name}?`}
          text="The current key stops working at once; every client that uses it needs the new one."
          action="Regenerate"
          busy={busy}
          onCancel={() => setConfirm(null)}
          onConfirm={() =>
            run(async () => {
              const r = await api<{ api_key: string }>('PATCH', `/api/v2/system/app/${app.id}?regenerate=true`)
              setKey(r.api_key)
              setConfirm(null)
            })
          }
        />
      )}
      {confirm === 'delete' && (
        <Confirm
          title={`Delete app ${app.name}?`}
          text="Its key stops working at once. This cannot be undone."
          action={`Delete ${app.name}`}
          busy={busy}
          onCancel={() => setConfirm(null)}
          onConfirm={() =>
            run(async () => {
              await api('DELETE', `/api/v2/system/app/${app.id}`)
              navigate('/apps')
            })
          }
        />
      )}
      <ConnectAgent appKey={key} readOnly={app.read_only} />
    </section>
  )
}

/** Copies text, answering what to tell the admin. */
async function copy(text: string, field: HTMLInputElement | HTMLTextAreaElement | null): Promise<string> {
  try {
    await navigator.clipboard.writeText(text)
    return 'Copied.'
  } catch {
    field?.select()
    return 'Selected: press Ctrl+C (⌘C) to copy.'
  }
}

/** The service and table of the role's first access row, for a first request to try. */
async function firstTarget(roleId: number): Promise<{ service: string; table: string | null } | null> {
  const [role, services] = await Promise.all([
    api<Role>('GET', `/api/v2/system/role/${roleId}?related=role_service_access_by_role_id`),
    api<{ resource: Service[] }>('GET', '/api/v2/system/service'),
  ])
  for (const a of role.role_service_access_by_role_id.filter((a) => (a.verb_mask & 1) !== 0)) {
    const service = services.resource.find((s) => s.id === a.service_id && s.type === 'pgsql')
    if (service) return { service: service.name, table: tableOf(a.component) }
  }
  return null
}

function KeyPanel(props: { appKey: string; roleId: number | null }) {
  const field = useRef<HTMLInputElement>(null)
  const tryIt = useRef<HTMLTextAreaElement>(null)
  const [saidKey, setSaidKey] = useState('')
  const [saidTry, setSaidTry] = useState('')
  const [target] = useLoad(() => (props.roleId === null ? Promise.resolve(null) : firstTarget(props.roleId)), [props.roleId])
  const command = target.state === 'ready' && target.data ? tryCommand(location.origin, props.appKey, target.data.service, target.data.table) : null
  return (
    <div class="key" role="region" aria-labelledby="key-title">
      <h2 id="key-title">The app's API key</h2>
      <p>Copy it now: it is shown only once.</p>
      <label for="api-key">API key</label>
      <div class="actions">
        <input id="api-key" ref={field} class="mono wide" readOnly value={props.appKey} onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button type="button" onClick={async () => setSaidKey(await copy(props.appKey, field.current))}>
          Copy key
        </button>
        <span role="status">{saidKey}</span>
      </div>
      <p class="muted">
        Send it as the <code>X-DreamFactory-API-Key</code> header.
      </p>
      {command && (
        <>
          <label for="try-it">Try it</label>
          <div class="actions">
            <textarea id="try-it" ref={tryIt} class="mono grow" rows={4} readOnly value={command} />
            <button type="button" class="secondary" onClick={async () => setSaidTry(await copy(command, tryIt.current))}>
              Copy command
            </button>
            <span role="status">{saidTry}</span>
          </div>
        </>
      )}
    </div>
  )
}

function ConnectAgent(props: { appKey: string | null; readOnly: boolean }) {
  const configs = agentConfigs(location.origin, props.appKey, props.readOnly)
  const [which, setWhich] = useState(0)
  const [said, setSaid] = useState('')
  const area = useRef<HTMLTextAreaElement>(null)
  const c = configs[which]
  return (
    <section aria-labelledby="agent-title">
      <h2 id="agent-title">Connect an agent</h2>
      <p class="muted">
        An agent reaches exactly what this app's role allows, as MCP tools. Stdio clients run the <code>rampart-mcp</code> bridge
        (it ships with Rampart); HTTP clients talk to <code>/mcp</code> directly.
        {props.appKey ? '' : ' Put the app\u2019s key where the placeholder is.'}
      </p>
      <div class="tabs" role="group" aria-label="MCP client">
        {configs.map((cfg, i) => (
          <button type="button" class={i === which ? '' : 'secondary'} aria-pressed={i === which} onClick={() => (setWhich(i), setSaid(''))}>
            {cfg.client}
          </button>
        ))}
      </div>
      <label for="agent-config">
        {c.client}: <code>{c.file}</code>
      </label>
      <textarea id="agent-config" ref={area} class="mono wide" rows={c.text.split('\n').length} readOnly value={c.text} />
      <div class="actions">
        <button type="button" class="secondary" onClick={async () => setSaid(await copy(c.text, area.current))}>
          Copy configuration
        </button>
        <span role="status">{said}</span>
      </div>
    </section>
  )
}
