// What a page shows while its data loads, or when loading failed (the server's message).
import type { Load } from './load'

export function LoadStatus<T>(props: { load: Load<T>; loading: string }) {
  if (props.load.state === 'loading') return <p aria-live="polite">{props.loading}</p>
  if (props.load.state === 'failed')
    return (
      <p class="error" role="alert">
        {props.load.message}
      </p>
    )
  return null
}
