// Summarizes results/results.json (written by run.sh) against the suite's own
// test definitions, and compares the passing tests with passing.txt.
//
//   node summarize.mjs            summary; exit 1 if a test in passing.txt no longer passes
//   node summarize.mjs --failing  every applicable test that does not pass, with the reason
//   node summarize.mjs --update   also write the passing tests to passing.txt (the baseline)
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import suites from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const resultsFile = path.join(here, 'results', 'results.json')
const passingFile = path.join(here, 'results', 'passing.txt')
const baselineFile = path.join(here, 'passing.txt')
const KINDS = ['required', 'optimal', 'check']

// The suites the CLI runs (cli.mjs adds Surrogate-Control to tests/index.mjs).
// browser_only tests are skipped for anything but a browser cache, both by
// the runner (client/runner.mjs) and by the results display (lib/display.mjs);
// browser_skip tests do apply to a proxy. A missing kind means 'required'
// (lib/display.mjs determineTestResult).
const allSuites = [...suites, surrogate]
const tests = new Map()
for (const suite of allSuites) {
  for (const test of suite.tests) {
    if (test.browser_only === true) continue
    tests.set(test.id, { ...test, kind: test.kind || 'required', suite })
  }
}

let results
try {
  results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'))
} catch (err) {
  console.error(`cannot read results: ${err.message}\nrun: bash internal/conformance/run.sh`)
  process.exit(2)
}

// Status of a test, as lib/display.mjs determineTestResult decides it: a test
// passes only when its result is true and all it depends on passes, transitively.
// Returns { status, message } with status one of
// pass | fail | setup | retry | dependency | missing.
const memo = new Map()
function status (id) {
  if (memo.has(id)) return memo.get(id)
  const test = tests.get(id)
  const result = results[id]
  let s
  if (result === undefined) {
    s = { status: 'missing', message: 'no result (not run, or the run was cut short)' }
  } else {
    const dep = (test?.depends_on || []).find(d => status(d).status !== 'pass')
    if (dep !== undefined) {
      // Name the chain down to the test that actually failed, and its reason.
      const d = status(dep)
      const [chain, root] = d.status === 'dependency' ? [`${dep} -> ${d.chain}`, d.root] : [dep, d]
      s = { status: 'dependency', chain, root, message: `needs ${chain} [${root.status}] ${root.message}` }
    } else if (result === true) {
      s = { status: 'pass' }
    } else {
      const [kind, message] = Array.isArray(result) ? result : ['unknown', JSON.stringify(result)]
      if (kind === 'Setup') {
        s = message === 'retry'
          ? { status: 'retry', message: 'the cache retried a request' }
          : { status: 'setup', message }
      } else {
        s = { status: 'fail', message: kind === 'Assertion' ? message : `${kind}: ${message}` }
      }
    }
  }
  memo.set(id, s)
  return s
}

const args = new Set(process.argv.slice(2))
const passing = [...tests.keys()].filter(id => status(id).status === 'pass').sort()

if (args.has('--failing')) {
  // Required first, then optimal, then check; in suite order within a kind.
  const failing = [...tests.values()]
    .filter(t => status(t.id).status !== 'pass')
    .sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind))
  for (const t of failing) {
    const s = status(t.id)
    // For a check test a plain failure just means "no" (a behaviour, not a bug).
    const word = s.status === 'fail' && t.kind === 'check' ? 'no' : s.status
    console.log(`${t.kind.padEnd(8)} ${t.id}  ${t.name}  [${word}] ${s.message}`)
  }
  console.log(`\n${failing.length} of ${tests.size} applicable tests do not pass.`)
  console.log('[fail] an assertion failed; [no] a check test answered no; [setup] a precondition failed,')
  console.log('e.g. a response that had to be cached was not; [dependency] a test it depends on does not pass;')
  console.log('[retry] the cache retried a request; [missing] no result.')
  console.log('One test in detail: bash internal/conformance/run.sh TEST_ID')
  process.exit(0)
}

// Summary by kind.
const version = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/http-cache-tests/package.json'), 'utf8')).version
console.log(`http-cache-tests ${version}: ${tests.size} tests apply to a reverse proxy\n`)
const cols = ['pass', 'fail', 'setup', 'retry', 'dependency', 'missing']
const row = (cells, widths) => cells.map((c, i) => String(c)[i ? 'padStart' : 'padEnd'](widths[i])).join(' ')
const kindWidths = [9, 7, 6, 5, 6, 5, 10, 7]
console.log(row(['kind', 'passed', 'total', ...cols.slice(1)], kindWidths))
for (const kind of [...KINDS, 'all']) {
  const ofKind = [...tests.values()].filter(t => kind === 'all' || t.kind === kind)
  const count = st => ofKind.filter(t => status(t.id).status === st).length
  console.log(row([kind, count('pass'), ofKind.length, ...cols.slice(1).map(count)], kindWidths))
}

// Summary by group (suite), passed/total per kind.
console.log()
const groupWidths = [18, 9, 9, 9]
console.log(row(['group', ...KINDS], groupWidths) + '  name')
for (const suite of allSuites) {
  const ofSuite = [...tests.values()].filter(t => t.suite === suite)
  const cell = kind => {
    const ofKind = ofSuite.filter(t => t.kind === kind)
    if (!ofKind.length) return '-'
    return `${ofKind.filter(t => status(t.id).status === 'pass').length}/${ofKind.length}`
  }
  console.log(row([suite.id, ...KINDS.map(cell)], groupWidths) + `  ${suite.name}`)
}

fs.writeFileSync(passingFile, passing.map(id => id + '\n').join(''))

// Compare with the baseline.
const baseline = fs.existsSync(baselineFile)
  ? fs.readFileSync(baselineFile, 'utf8').split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'))
  : []
const passingSet = new Set(passing)
const baselineSet = new Set(baseline)
const regressions = baseline.filter(id => !passingSet.has(id))
const improvements = passing.filter(id => !baselineSet.has(id))

console.log()
if (args.has('--update')) {
  fs.writeFileSync(baselineFile, passing.map(id => id + '\n').join(''))
  console.log(`wrote ${passing.length} passing tests to ${path.relative(process.cwd(), baselineFile)}`)
  process.exit(0)
}
if (improvements.length) {
  console.log(`improvements: update internal/conformance/passing.txt (${improvements.length} newly passing; node internal/conformance/summarize.mjs --update)`)
  for (const id of improvements) console.log(`  + ${id}`)
}
if (regressions.length) {
  console.log(`REGRESSIONS: ${regressions.length} tests in internal/conformance/passing.txt no longer pass`)
  for (const id of regressions) {
    const s = tests.has(id) ? status(id) : { status: 'unknown', message: 'not an applicable test of this suite version' }
    console.log(`  - ${id}  [${s.status}] ${s.message}`)
  }
  process.exit(1)
}
console.log(`no regressions against internal/conformance/passing.txt (${baseline.length} tests)`)
