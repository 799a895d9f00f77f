// The way from an empty server to a restricted API key, shown until it has been walked once:
// connect a database, define a role, create an app key with it. Each step links to its page
// and is ticked off from what the server already holds.
import { api } from '../api'
import { useLoad } from '../load'
import { Link } from '../router'

interface Counts {
  services: number
  roles: number
  apps: number
}

async function counts(): Promise<Counts> {
  const n = (path: string) => api<{ resource: { type?: string }[] }>('GET', path).then((r) => r.resource)
  const [services, roles, apps] = await Promise.all([n('/api/v2/system/service'), n('/api/v2/system/role'), n('/api/v2/system/app')])
  return { services: services.filter((s) => s.type === 'pgsql').length, roles: roles.length, apps: apps.length }
}

export function GetStarted() {
  const [load] = useLoad(counts)
  if (load.state !== 'ready') return null
  const c = load.data
  if (c.services > 0 && c.roles > 0 && c.apps > 0) return null
  const steps: { done: boolean; to: string; text: string; hint?: string }[] = [
    { done: c.services > 0, to: '/services/new', text: 'Connect a PostgreSQL database' },
    { done: c.roles > 0, to: '/roles/new', text: 'Define a role', hint: 'its tables, verbs, rows and masked fields' },
    { done: c.apps > 0, to: '/apps/new', text: 'Create an app key with that role' },
  ]
  return (
    <aside class="start" aria-labelledby="start-title">
      <h2 id="start-title">Get started: from a database to a restricted API key</h2>
      <ol>
        {steps.map((s) => (
          <li class={s.done ? 'done' : ''}>
            {s.done ? (
              <span>
                <span aria-hidden="true">✓ </span>
                {s.text}
                <span class="sr-only"> (done)</span>
              </span>
            ) : (
              <Link to={s.to}>{s.text}</Link>
            )}{' '}
            {s.hint && <span class="muted">— {s.hint}</span>}
          </li>
        ))}
      </ol>
    </aside>
  )
}
