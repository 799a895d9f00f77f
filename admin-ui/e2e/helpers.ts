// What every console browser test shares: the admin's credentials, a watch on the page for
// uncaught errors and 5xx answers, axe-core, screenshots, and sign-in.
import { expect, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
export const EMAIL = process.env.ADMIN_EMAIL ?? ''
export const PASSWORD = process.env.ADMIN_PASSWORD ?? ''
export const SHOTS = process.env.SCREENSHOTS ?? 'test-results/screens'

/** Collects uncaught errors, console errors and 5xx answers of a page. */
export function watch(page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`))
  page.on('console', (m) => {
    // A refused sign-in or an ended session is a 4xx the console handles; the browser logs it.
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} ${r.url()}`)
  })
  return problems
}

/** axe-core's serious and critical violations on the page as it is. */
export async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE)
  const found: { id: string; impact: string; help: string }[] = await page.evaluate(async () => {
    // @ts-expect-error axe is the global the script above defines
    const r = await axe.run(document, { resultTypes: ['violations'] })
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help }))
  })
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`)
}

export async function screen(page: Page, name: string) {
  expect(await violations(page), `axe on ${name}`).toEqual([])
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true })
}

export async function signIn(page: Page) {
  await page.getByLabel('Email').fill(EMAIL)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

