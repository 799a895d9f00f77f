// One page for the system's simpler records (CORS entries, rate limits): a list, and a form
// to create or edit one, built from a description of its fields. Deleting asks first.
import { useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { checkedOf, Confirm, OutcomeLine, useRun, valueOf } from '../ui'

type Value = string | number | boolean | string[] | null
export type Rec = { id: number } & Record<string, Value>

export interface FieldSpec {
  key: string
  label: string
  kind: 'text' | 'number' | 'checkbox' | 'select' | 'list'
  /** For selects: the choices; '' means none (sent as null). */
  options?: { value: string; label: string }[]
  help?: string
  required?: boolean
}

export interface RecordsSpec {
  title: string
  noun: string
  path: string
  about: string
  empty: string
  columns: { label: string; value: (r: Rec) => string }[]
  fields: FieldSpec[]
  blank: Record<string, Value>
  /** What a record's name is, in confirmations. */
  name: (r: Rec) => string
  /** Records made elsewhere: listed and removed, never created or edited here. */
  fixed?: boolean
  /** How removing reads ("Revoke"), what it does, and the notice after; default: delete. */
  removal?: { action: string; text: string; done: string }
}

/** The value to send for a field's text. */
function parsed(f: FieldSpec, raw: Value): Value {
  if (f.kind === 'number') return raw === '' || raw === null ? null : Number(raw)
  if (f.kind === 'list') return String(raw ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  if (f.kind === 'select') return raw === '' ? null : /^\d+$/.test(String(raw)) ? Number(raw) : raw
  return raw
}

/** How a stored value shows in a field. */
function shown(f: FieldSpec, v: Value | undefined): Value {
  if (f.kind === 'list') return Array.isArray(v) ? v.join(', ') : String(v ?? '')
  if (f.kind === 'checkbox') return Boolean(v)
  return v === null || v === undefined ? '' : String(v)
}

export function Records(props: { spec: RecordsSpec; level?: 1 | 2 }) {
  const { spec } = props
  const Heading = props.level === 2 ? 'h2' : 'h1'
  const headingId = `records-${spec.path.split('/').pop()}`
  const removal = spec.removal ?? { action: 'Delete', text: 'It stops applying at once.', done: 'Deleted.' }
  const [load, reload] = useLoad(() => api<{ resource: Rec[] }>('GET', spec.path).then((r) => r.resource), [spec.path])
  const [editing, setEditing] = useState<Rec | 'new' | null>(null)
  const [form, setForm] = useState<Record<string, Value>>({})
  const [deleting, setDeleting] = useState<Rec | null>(null)
  const { busy, outcome, setOutcome, run } = useRun()
  const open = (r: Rec | 'new') => {
    const base = r === 'new' ? spec.blank : r
    setForm(Object.fromEntries(spec.fields.map((f) => [f.key, shown(f, base[f.key])])))
    setEditing(r)
    setOutcome(null)
  }
  const save = (e: Event) => {
    e.preventDefault()
    run(async () => {
      const body = Object.fromEntries(spec.fields.map((f) => [f.key, parsed(f, form[f.key])]))
      if (editing === 'new') await api('POST', spec.path, { resource: [body] })
      else if (editing) await api('PATCH', `${spec.path}/${editing.id}`, body)
      setEditing(null)
      reload()
      return 'Saved.'
    })
  }
  const id = (f: FieldSpec) => `rec-${f.key}`
  return (
    <section aria-labelledby={headingId}>
      <div class="heading">
        <Heading id={headingId}>{spec.title}</Heading>
        {!spec.fixed && (
          <button type="button" onClick={() => open('new')}>
            New {spec.noun}
          </button>
        )}
      </div>
      <p class="muted">{spec.about}</p>
      <OutcomeLine outcome={editing ? null : outcome} />
      {editing && (
        <form class="grid" onSubmit={save} aria-label={editing === 'new' ? `New ${spec.noun}` : `Edit ${spec.name(editing)}`}>
          {spec.fields.map((f) =>
            f.kind === 'checkbox' ? (
              <label class="check">
                <input type="checkbox" checked={Boolean(form[f.key])} onChange={(e) => setForm({ ...form, [f.key]: checkedOf(e) })} /> {f.label}
              </label>
            ) : (
              <>
                <label for={id(f)}>{f.label}</label>
                {f.kind === 'select' ? (
                  <select id={id(f)} value={String(form[f.key] ?? '')} onChange={(e) => setForm({ ...form, [f.key]: (e.target as HTMLSelectElement).value })}>
                    {f.options?.map((o) => (
                      <option value={o.value}>{o.label}</option>
                    ))}
                  </select>
                ) : (
                  <input
                    id={id(f)}
                    required={f.required}
                    inputMode={f.kind === 'number' ? 'numeric' : undefined}
                    aria-describedby={f.help ? `${id(f)}-help` : undefined}
                    value={String(form[f.key] ?? '')}
                    onInput={(e) => setForm({ ...form, [f.key]: valueOf(e) })}
                  />
                )}
                {f.help && <small id={`${id(f)}-help`}>{f.help}</small>}
              </>
            ),
          )}
          <div class="actions">
            <button type="submit" disabled={busy}>
              {editing === 'new' ? `Create ${spec.noun}` : 'Save'}
            </button>
            <button type="button" class="secondary" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
          <OutcomeLine outcome={outcome} />
        </form>
      )}
      {deleting && (
        <Confirm
          title={`${removal.action} ${spec.name(deleting)}?`}
          text={removal.text}
          action={removal.action}
          busy={busy}
          onCancel={() => setDeleting(null)}
          onConfirm={() =>
            run(async () => {
              await api('DELETE', `${spec.path}/${deleting.id}`)
              setDeleting(null)
              reload()
              return removal.done
            })
          }
        />
      )}
      <LoadStatus load={load} loading={`Loading ${spec.title.toLowerCase()}…`} />
      {load.state === 'ready' && load.data.length === 0 && <p class="empty">{spec.empty}</p>}
      {load.state === 'ready' && load.data.length > 0 && (
        <table>
          <caption class="sr-only">{spec.title}</caption>
          <thead>
            <tr>
              {spec.columns.map((c) => (
                <th scope="col">{c.label}</th>
              ))}
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {load.data.map((r) => (
              <tr key={r.id}>
                {spec.columns.map((c) => (
                  <td>{c.value(r)}</td>
                ))}
                <td class="actions">
                  {!spec.fixed && (
                    <button type="button" class="secondary" onClick={() => open(r)}>
                      Edit<span class="sr-only"> {spec.name(r)}</span>
                    </button>
                  )}
                  <button type="button" class="secondary" onClick={() => setDeleting(r)}>
                    {removal.action}
                    <span class="sr-only"> {spec.name(r)}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
