// Small pieces every page shares: running an action with a busy flag and an inline outcome,
// the outcome itself, and a confirmation before anything destructive.
import { useMemo, useState } from 'preact/hooks'
import { api } from './api'
import { messageOf } from './load'
import { navigate } from './router'

export type Outcome = { kind: 'ok' | 'error'; text: string } | null

/** Runs actions one at a time; a failure becomes an inline error with the server's message. */
export function useRun(): {
  busy: boolean
  outcome: Outcome
  setOutcome: (o: Outcome) => void
  run: (what: () => Promise<void | string>) => Promise<void>
} {
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome>(null)
  const run = async (what: () => Promise<void | string>) => {
    setBusy(true)
    setOutcome(null)
    try {
      const done = await what()
      if (typeof done === 'string') setOutcome({ kind: 'ok', text: done })
    } catch (e) {
      setOutcome({ kind: 'error', text: messageOf(e) })
    } finally {
      setBusy(false)
    }
  }
  return { busy, outcome, setOutcome, run }
}

/** A success (status) or a failure (alert), announced to screen readers. */
export function OutcomeLine(props: { outcome: Outcome }) {
  const o = props.outcome
  if (!o) return null
  return (
    <p class={o.kind === 'ok' ? 'ok' : 'error'} role={o.kind === 'ok' ? 'status' : 'alert'}>
      {o.text}
    </p>
  )
}

/** A confirmation for a destructive action: what happens, the action, and a way back. */
export function Confirm(props: {
  title: string
  text: string
  action: string
  busy?: boolean
  onConfirm: () => void
  onCancel: () => void
}) {
  const id = props.title.replace(/\W+/g, '-').toLowerCase()
  return (
    <div class="confirm" role="alertdialog" aria-labelledby={`${id}-title`} aria-describedby={`${id}-text`}>
      <h2 id={`${id}-title`}>{props.title}</h2>
      <p id={`${id}-text`}>{props.text}</p>
      <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>
        {props.action}
      </button>
      <button type="button" class="secondary" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  )
}

/** The value of an input event's target. */
export const valueOf = (e: Event) => (e.target as HTMLInputElement).value
/** The checked state of a checkbox event's target. */
export const checkedOf = (e: Event) => (e.target as HTMLInputElement).checked

/**
 * A long list searched as the admin types and shown a page at a time: the matching items,
 * how many are shown, and the search box's setter (which starts again at the first page).
 */
export function useFinder<T>(items: T[], text: (item: T) => string, page = 50) {
  const [find, setFind] = useState('')
  const [shown, setShown] = useState(page)
  const matching = useMemo(() => {
    const f = find.trim().toLowerCase()
    return f ? items.filter((i) => text(i).toLowerCase().includes(f)) : items
  }, [items, find])
  return {
    find,
    setFind: (f: string) => (setFind(f), setShown(page)),
    visible: matching.slice(0, shown),
    more: (
      <p class="muted" aria-live="polite">
        {Math.min(shown, matching.length)} of {matching.length} shown.
        {matching.length > shown && (
          <>
            {' '}
            <button type="button" class="secondary" onClick={() => setShown(shown + page)}>
              Show more
            </button>
          </>
        )}
      </p>
    ),
  }
}

/**
 * "Delete …" for a stored record: asks first (what happens, the action, a way back), then
 * deletes it with the server and goes back to its list. Failures show in the page's outcome.
 */
export function DeleteRecord(props: {
  /** "role", "user", …: the button says "Delete role". */
  noun: string
  /** The record's name, in the question and on the confirming button. */
  name: string
  /** What deleting does. */
  text: string
  /** The record's system API path, deleted on confirmation. */
  path: string
  /** The console route to go to afterwards. */
  back: string
  busy: boolean
  run: (what: () => Promise<void>) => Promise<void>
}) {
  const [confirming, setConfirming] = useState(false)
  if (!confirming)
    return (
      <button type="button" class="danger" disabled={props.busy} onClick={() => setConfirming(true)}>
        Delete {props.noun}
      </button>
    )
  return (
    <Confirm
      title={`Delete ${props.noun} ${props.name}?`}
      text={props.text}
      action={`Delete ${props.name}`}
      busy={props.busy}
      onCancel={() => setConfirming(false)}
      onConfirm={() =>
        props.run(async () => {
          await api('DELETE', props.path)
          navigate(props.back)
        })
      }
    />
  )
}
