// Loading state of a fetched resource, and a hook that fetches it.
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError } from './api'

export type Load<T> = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; data: T }

/** Runs `fetch` on mount and whenever `reload` is called; the latest answer wins. */
export function useLoad<T>(fetch: () => Promise<T>, deps: unknown[] = []): [Load<T>, () => void] {
  const [load, setLoad] = useState<Load<T>>({ state: 'loading' })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    setLoad({ state: 'loading' })
    fetch()
      .then((data) => live && setLoad({ state: 'ready', data }))
      .catch((e) => live && setLoad({ state: 'failed', message: messageOf(e) }))
    return () => {
      live = false
    }
  }, [...deps, tick])
  return [load, useCallback(() => setTick((t) => t + 1), [])]
}

/** The text to show for an error: the server's own message when it sent one. */
export function messageOf(e: unknown): string {
  return e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e)
}
