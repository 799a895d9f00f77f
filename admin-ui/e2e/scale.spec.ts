// The console at scale: a service with 1,000 tables and 100 roles. How long the schema
// browser, the roles list and a role editor take to open is measured and written to
// timings.json for the report; it is not asserted (timing belongs to benchmarks).
import { expect, test } from '@playwright/test'
import { writeFileSync } from 'node:fs'
import { SHOTS, screen, signIn, watch } from './helpers'

const SERVICE = process.env.WIDE_SERVICE_ID
const ROLE = process.env.WIDE_ROLE_ID

test('1,000 tables and 100 roles stay usable', async ({ page }) => {
  test.skip(!SERVICE || !ROLE, 'needs WIDE_SERVICE_ID and WIDE_ROLE_ID')
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  const timings: Record<string, number> = {}
  const time = async (name: string, open: () => Promise<void>, ready: () => Promise<void>) => {
    const start = Date.now()
    await open()
    await ready()
    timings[name] = Date.now() - start
  }

  await time(
    'schema browser',
    () => page.getByRole('link', { name: 'Browse the schema of wide' }).click(),
    () => expect(page.getByRole('button', { name: 't0001', exact: true })).toBeVisible(),
  )
  await page.getByLabel('Find a table').fill('t0999')
  await page.getByRole('button', { name: 't0999', exact: true }).click()
  await expect(page.getByRole('heading', { name: 't0999' })).toBeVisible()
  await screen(page, 'schema-wide')

  await time(
    'roles list',
    () => page.getByRole('link', { name: 'Roles', exact: true }).click(),
    () => expect(page.getByRole('link', { name: 'role-050' })).toBeVisible(),
  )
  await page.getByLabel('Find a role').fill('role-1')
  await expect(page.getByRole('link', { name: 'role-100' })).toBeVisible()

  const row = page.getByRole('group', { name: 'Access row 1' })
  await time(
    'role editor',
    () => page.getByRole('link', { name: 'role-100' }).click(),
    async () => {
      await expect(row.getByRole('combobox', { name: 'Table', exact: true })).toHaveValue('_table/t0100/*')
      // The columns of its table, from the 1,000-table schema.
      await row.getByRole('button', { name: 'Show row filter and field rules' }).click()
      await expect(row.getByLabel('Rule for amount')).toBeVisible()
    },
  )
  // Approached, the table choice offers every table of the service.
  await row.getByRole('combobox', { name: 'Table', exact: true }).focus()
  await expect(row.getByRole('combobox', { name: 'Table', exact: true }).locator('optgroup[label="Tables and views"] option')).toHaveCount(1000)
  await screen(page, 'role-wide')
  writeFileSync(`${SHOTS}/timings.json`, JSON.stringify(timings))
  expect(problems).toEqual([])
})
