// @segment/analytics-node, unmodified from npm, walking the journey of
// tests/e2e/segment_journey.py against the host given on the command line.
// Usage: node segment_node.mjs '{"host": ..., "writeKey": ..., "prefix": ..., "journey": true}'
// Prints one JSON line: {"errors": [{"code", "reason"}], "events": n}.
import { Analytics } from '@segment/analytics-node'

const opts = JSON.parse(process.argv[2])
const analytics = new Analytics({
  writeKey: opts.writeKey,
  host: opts.host,
  flushInterval: 50,
  maxRetries: opts.maxRetries ?? 3,
})
const errors = []
analytics.on('error', (err) => errors.push({ code: err.code, reason: String(err.reason) }))

const p = opts.prefix
const at = (s) => new Date(Date.UTC(2026, 10, 22, 9, 0, s))
let events = 0
const send = (method, message) => { events += 1; analytics[method](message) }
if (opts.journey) {
  send('page', { anonymousId: `${p}-anon`, name: 'Pricing', properties: { path: '/pricing' }, timestamp: at(0) })
  send('identify', { userId: `${p}-user`, anonymousId: `${p}-anon`,
    traits: { email: `${p}@example.test`, plan: 'pro' }, timestamp: at(1) })
  send('track', { userId: `${p}-user`, event: 'Signed Up', properties: { plan: 'pro' }, timestamp: at(2) })
  send('group', { userId: `${p}-user`, groupId: `${p}-co`, traits: { name: 'Acme' }, timestamp: at(3) })
} else {
  send('track', { userId: `${p}-user`, event: 'Never Stored' })
}
await analytics.closeAndFlush({ timeout: 20000 })
process.stdout.write(JSON.stringify({ errors, events }) + '\n')
