// The audit log: every request, newest first, filtered with the same filter language as the
// API (over audit fields), paged, and exported in full as NDJSON or CSV.
import { useState } from 'preact/hooks'
import { api, download } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { OutcomeLine, useRun, valueOf } from '../ui'

interface Event {
  id: number
  time: string
  kind: string
  transport: string
  tool: string | null
  principal: string
  email: string | null
  app_id: number | null
  role_id: number | null
  method: string
  service: string | null
  resource: string | null
  params: unknown
  status: number
  error_code: string | null
  rows: number | null
  latency_us: number
  changes: unknown
}

const PAGE = 50

export function Audit() {
  const [draft, setDraft] = useState('')
  const [filter, setFilter] = useState('')
  const [offset, setOffset] = useState(0)
  const query = () => {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset), include_count: 'true' })
    if (filter) q.set('filter', filter)
    return q
  }
  const [load, reload] = useLoad(
    () => api<{ resource: Event[]; meta: { count: number } }>('GET', `/api/v2/system/audit?${query()}`),
    [filter, offset],
  )
  const { busy, outcome, run } = useRun()
  const exportAs = (format: 'ndjson' | 'csv') =>
    run(async () => {
      const q = new URLSearchParams({ format })
      if (filter) q.set('filter', filter)
      await download(`/api/v2/system/audit?${q}`, `rampart-audit.${format}`)
    })
  const count = load.state === 'ready' ? load.data.meta.count : 0
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <p class="muted">
        Every request, who made it and what it did. Filter with the API's filter language over audit fields, e.g.{' '}
        <code>status &gt;= 400 and service = 'db'</code>.
      </p>
      <form
        class="actions"
        onSubmit={(e) => {
          e.preventDefault()
          if (draft.trim() === filter && offset === 0) reload()
          setOffset(0)
          setFilter(draft.trim())
        }}
      >
        <label for="audit-filter" class="sr-only">
          Filter
        </label>
        <input id="audit-filter" class="mono grow" placeholder="Filter" value={draft} onInput={(e) => setDraft(valueOf(e))} />
        <button type="submit">Apply filter</button>
        <button type="button" class="secondary" disabled={busy} onClick={() => exportAs('ndjson')}>
          Export NDJSON
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => exportAs('csv')}>
          Export CSV
        </button>
      </form>
      <OutcomeLine outcome={outcome} />
      <LoadStatus load={load} loading="Loading events…" />
      {load.state === 'ready' && load.data.resource.length === 0 && <p class="empty">No event matches.</p>}
      {load.state === 'ready' && load.data.resource.length > 0 && (
        <>
          <div class="scroll">
            <table>
              <caption class="sr-only">Audit events</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Who</th>
                  <th scope="col">Request</th>
                  <th scope="col">Status</th>
                  <th scope="col">Rows</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {load.data.resource.map((e) => (
                  <tr key={e.id}>
                    <td>{e.time.replace('T', ' ').slice(0, 19)}</td>
                    <td>{e.email ?? (e.app_id ? `app #${e.app_id}` : e.principal)}</td>
                    <td class="mono">
                      {e.method} {[e.service, e.resource].filter(Boolean).join('/')}
                      {e.tool ? ` (${e.transport}: ${e.tool})` : ''}
                    </td>
                    <td>{e.status}</td>
                    <td>{e.rows ?? ''}</td>
                    <td>
                      <details>
                        <summary>
                          Event {e.id}
                        </summary>
                        <pre class="mono">{JSON.stringify({ params: e.params, changes: e.changes, error: e.error_code, latency_us: e.latency_us, role_id: e.role_id }, null, 2)}</pre>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="actions" role="group" aria-label="Pages">
            <button type="button" class="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Newer
            </button>
            <span aria-live="polite">
              {offset + 1}–{Math.min(offset + PAGE, count)} of {count}
            </span>
            <button type="button" class="secondary" disabled={offset + PAGE >= count} onClick={() => setOffset(offset + PAGE)}>
              Older
            </button>
          </div>
        </>
      )}
    </section>
  )
}
