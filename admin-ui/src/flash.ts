// A one-line notice carried to the next page ("Role created."), in memory, shown once, with
// an optional link to the natural next step.

/** A notice, and where to go next. */
export interface Notice {
  text: string
  next?: { to: string; label: string }
}

let pending: Notice | null = null

export function flash(text: string, next?: Notice['next']): void {
  pending = { text, next }
}

/** The notice for the page being shown, once. */
export function takeFlash(): Notice | null {
  const notice = pending
  pending = null
  return notice
}
