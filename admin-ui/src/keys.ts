// A new API key travels from the page that created it to the app's page in memory only: it
// is taken once, and gone when the admin leaves that page. Never in any browser storage.
let fresh: { app: number; key: string } | null = null

export function handOver(app: number, key: string): void {
  fresh = { app, key }
}

/** The key just created for `app`, once; null afterwards. */
export function takeKey(app: number): string | null {
  if (fresh?.app !== app) return null
  const key = fresh.key
  fresh = null
  return key
}
