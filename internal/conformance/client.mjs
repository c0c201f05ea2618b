// Runs every test of the suite against BASE_URL and prints the results JSON
// (test id -> true | [error kind, message]) on stdout.
//
// Same as the package's `npm run cli` with no --id (cli.mjs), except that each
// request gets a timeout: the 0.4.5 client has none, so one request the proxy
// never answers would hang the whole run and lose every result. With the
// timeout it becomes a failure of that one test ("FetchError").
import fetch from 'node-fetch'
import { runTests, getResults } from 'http-cache-tests/client/runner.mjs'
import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const base = process.env.BASE_URL
const timeout = Number(process.env.REQUEST_TIMEOUT_MS || 30000)
if (!base) throw new Error('BASE_URL is not set')

const timedFetch = (url, init = {}) => fetch(url, { ...init, timeout })

runTests([...tests, surrogate], timedFetch, false, base)
  .then(() => console.log(JSON.stringify(getResults(), null, 2)))
  .catch(err => { console.error(err); process.exit(1) })
