// verified-fetch.mjs: fetch CIDs through one trustless gateway with
// @helia/verified-fetch and print what came back, one JSON line each.
//
//   node verified-fetch.mjs [--timeout ms] [--modules dir] <gateway-url> <target>[=<sha256>] ...
//
// A target is a CID or a CID with a path (<cid>/<name>); with =<sha256> the
// body must hash to it. Each line is
//   {"target","status","sha256","bytes","contentType","ms","error"}
// and the exit code is 0 only when every target came back 200 (with the
// expected sha256, when given). Exit code 3: @helia/verified-fetch is not
// installed (search: --modules, $HASH_STREAM_NODE_MODULES, node_modules and
// .tools/node/node_modules in the folders above this script).
//
// The only network it touches is the gateway: Helia is built here with the
// trustless-gateway block broker and the gateway as its only (fallback)
// router: no libp2p, no bitswap, no delegated routing, no DHT, no DNS. Every
// fetch() to another origin is refused and makes the run fail.
import { existsSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

function usage (msg) {
  process.stderr.write(`verified-fetch.mjs: ${msg}\nusage: node verified-fetch.mjs [--timeout ms] [--modules dir] <gateway-url> <cid>[/<path>][=<sha256>] ...\n`)
  process.exit(2)
}

// Arguments.
let timeoutMs = 20000
let modulesArg = process.env.HASH_STREAM_NODE_MODULES ?? ''
const positional = []
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--timeout' && i + 1 < argv.length) {
    timeoutMs = Number(argv[++i])
    if (!(timeoutMs > 0)) usage(`bad --timeout ${argv[i]}`)
  } else if (a === '--modules' && i + 1 < argv.length) {
    modulesArg = argv[++i]
  } else if (a.startsWith('--')) {
    usage(`unknown flag ${a}`)
  } else {
    positional.push(a)
  }
}
if (positional.length < 2) usage('want a gateway URL and at least one CID')
let gateway
try {
  gateway = new URL(positional[0])
} catch {
  usage(`bad gateway URL ${positional[0]}`)
}
const targets = positional.slice(1).map(arg => {
  const eq = arg.lastIndexOf('=')
  if (eq < 0) return { target: arg, want: null }
  return { target: arg.slice(0, eq), want: arg.slice(eq + 1).toLowerCase() }
})

// Refuse every HTTP request that is not to the gateway, before any Helia
// module runs: all of Helia's HTTP (gateways, delegated routing, DNS over
// HTTPS) goes through the global fetch.
const offGateway = []
const realFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
  if (url.origin !== gateway.origin) {
    offGateway.push(url.origin)
    throw new Error(`verified-fetch.mjs: refused a request to ${url.origin}: only ${gateway.origin} is allowed`)
  }
  return realFetch(input, init)
}

// Find the installed packages. ESM ignores NODE_PATH, so a package is
// loaded from its folder by the "import" entry of its package.json.
function modulesDirs () {
  const dirs = []
  if (modulesArg !== '') dirs.push(resolve(modulesArg))
  let d = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    dirs.push(join(d, 'node_modules'), join(d, '.tools', 'node', 'node_modules'))
    const up = dirname(d)
    if (up === d) break
    d = up
  }
  return dirs
}
const modules = modulesDirs().find(d => existsSync(join(d, '@helia', 'verified-fetch', 'package.json')))
if (modules == null) {
  process.stderr.write(`verified-fetch.mjs: @helia/verified-fetch not installed (looked in ${modulesDirs().slice(0, 4).join(', ')}, ...; run bash .ci/tools.sh)\n`)
  process.exit(3)
}
async function load (name) {
  const dir = join(modules, ...name.split('/'))
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const dot = pkg.exports?.['.'] ?? pkg.exports
  const entry = (typeof dot === 'string' ? dot : dot?.import ?? dot?.default) ?? pkg.main ?? 'index.js'
  return import(pathToFileURL(join(dir, entry)).href)
}
const vfPkg = JSON.parse(readFileSync(join(modules, '@helia', 'verified-fetch', 'package.json'), 'utf8'))
const [{ createVerifiedFetch }, { createHeliaLight }, { withHTTP }, dagCbor, dagJson] = await Promise.all([
  load('@helia/verified-fetch'), load('helia'), load('@helia/http'), load('@ipld/dag-cbor'), load('@ipld/dag-json')
])

// Helia over the one gateway. The fallback router names it as a provider of
// every CID; the trustless-gateway broker fetches each block from it with
// ?format=raw and checks it against its CID. http://127.0.0.1 needs
// allowInsecure and allowLocal.
const helia = withHTTP(createHeliaLight({ codecs: [dagCbor, dagJson] }), {
  delegatedRouters: [],
  recursiveGateways: [gateway.origin],
  allowInsecure: true,
  allowLocal: true
})
// Helia's routing asks the non-fallback routers first and, with none at all,
// waits forever for them to finish (helia 7.1: its provider queue only goes
// idle when a router ends), so add one that finds nothing at once.
helia.addRouter({ name: 'no-routing', async * findProviders () {} })
await helia.start()
const verifiedFetch = await createVerifiedFetch(helia)
process.stderr.write(`verified-fetch.mjs: @helia/verified-fetch ${vfPkg.version} (${modules}) via ${gateway.origin}, node ${process.version}\n`)

// fetchOne fetches a target and hashes its body, aborting at timeoutMs.
// AbortSignal.timeout's timer does not keep Node running, so a fetch stuck
// on nothing but promises would end the process unfinished: a ref'd timer
// aborts instead, and a second one gives up should the abort not unwind it.
async function fetchOne (target, line) {
  const controller = new AbortController()
  const timers = []
  const stuck = new Promise((resolve, reject) => {
    timers.push(setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs))
    timers.push(setTimeout(() => reject(new Error(`still running ${timeoutMs + 2000} ms after start, 2 s after the abort`)), timeoutMs + 2000))
  })
  const run = async () => {
    const res = await verifiedFetch(`ipfs://${target}`, { signal: controller.signal })
    line.status = res.status
    line.contentType = res.headers.get('content-type')
    const h = createHash('sha256')
    if (res.body != null) {
      for await (const chunk of res.body) {
        h.update(chunk)
        line.bytes += chunk.byteLength
      }
    }
    line.sha256 = h.digest('hex')
  }
  try {
    await Promise.race([run(), stuck])
  } finally {
    timers.forEach(clearTimeout)
  }
}

let failed = false
for (const { target, want } of targets) {
  const line = { target, status: 0, sha256: null, bytes: 0, contentType: null, ms: 0, error: null }
  const start = performance.now()
  try {
    await fetchOne(target, line)
    if (line.status !== 200) {
      line.error = `status ${line.status}`
    } else if (want != null && line.sha256 !== want) {
      line.error = `sha256 ${line.sha256}, want ${want}`
    }
  } catch (err) {
    line.error = `${err.name}: ${err.message}`
  }
  line.ms = Math.round(performance.now() - start)
  if (line.error != null) failed = true
  process.stdout.write(JSON.stringify(line) + '\n')
}

await verifiedFetch.stop() // stops Helia
if (offGateway.length > 0) {
  process.stderr.write(`verified-fetch.mjs: refused requests off the gateway: ${[...new Set(offGateway)].join(', ')}\n`)
  failed = true
}
process.exitCode = failed ? 1 : 0
// Everything is stopped, so Node exits now; should a handle linger, say so
// and exit anyway rather than hang.
setTimeout(() => {
  process.stderr.write('verified-fetch.mjs: handles still open 5 s after stop, exiting\n')
  process.exit(process.exitCode)
}, 5000).unref()
