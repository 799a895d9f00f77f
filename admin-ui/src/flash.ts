// A one-line notice carried to the next page ("Role created."), in memory, shown once.
let pending: string | null = null

export function flash(text: string): void {
  pending = text
}

/** The notice for the page being shown, once. */
export function takeFlash(): string | null {
  const text = pending
  pending = null
  return text
}
