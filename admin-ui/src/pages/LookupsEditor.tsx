// The lookups of a role or a user, edited in place and saved with their owner: a row with an
// id is changed, a new one created, a removed one detached (DreamFactory's nested rules).
import { useState } from 'preact/hooks'
import type { Lookup } from '../roles'
import { checkedOf, valueOf } from '../ui'

type Row = Lookup & { key: number }
let next = 1

export interface Lookups {
  rows: Row[]
  setRows: (f: (rows: Row[]) => Row[]) => void
  remove: (row: Row) => void
  /** Starts again from the stored lookups. */
  reset: (stored: Lookup[]) => void
  /** What to send with the owner: every row, and the removed ones detached. */
  changes: () => Record<string, unknown>[]
}

export function useLookups(owner: 'role_id' | 'user_id'): Lookups {
  const [rows, setRows] = useState<Row[]>([])
  const [removed, setRemoved] = useState<number[]>([])
  return {
    rows,
    setRows,
    remove: (row) => {
      if (row.id) setRemoved((r) => [...r, row.id!])
      setRows((rs) => rs.filter((x) => x.key !== row.key))
    },
    reset: (stored) => {
      setRows(stored.map((l) => ({ ...l, key: next++ })))
      setRemoved([])
    },
    changes: () => [
      ...rows.map(({ key: _k, ...l }) => ({ ...l, name: l.name.trim() })),
      ...removed.map((id) => ({ id, [owner]: null })),
    ],
  }
}

export function LookupsEditor(props: { lookups: Lookups }) {
  const { rows, setRows, remove } = props.lookups
  const change = (key: number, patch: Partial<Row>) => setRows((ls) => ls.map((l) => (l.key === key ? { ...l, ...patch } : l)))
  return (
    <>
      <h2>Lookups</h2>
      {rows.length > 0 && (
        <p class="muted">
          Named values a row filter can use as <code>{'{name}'}</code>. A private value is never shown again and kept out of filters.
        </p>
      )}
      {rows.length > 0 && (
        <div class="scroll">
        <table>
          <caption class="sr-only">Lookups</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">Private</th>
              <th scope="col">
                <span class="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((l, i) => (
              <tr key={l.key}>
                <td>
                  <input aria-label={`Name of lookup ${i + 1}`} required value={l.name} onInput={(e) => change(l.key, { name: valueOf(e) })} />
                </td>
                <td>
                  <input
                    aria-label={`Value of lookup ${i + 1}`}
                    value={l.value}
                    placeholder={l.private && l.id ? 'unchanged' : ''}
                    onInput={(e) => change(l.key, { value: valueOf(e) })}
                  />
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Lookup ${i + 1} is private`}
                    checked={l.private}
                    onChange={(e) => change(l.key, { private: checkedOf(e) })}
                  />
                </td>
                <td>
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => remove(l)}
                  >
                    Remove<span class="sr-only"> lookup {i + 1}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <button type="button" class="secondary" onClick={() => setRows((ls) => [...ls, { name: '', value: '', private: false, key: next++ }])}>
        Add lookup
      </button>
    </>
  )
}
