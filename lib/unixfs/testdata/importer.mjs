// importer.mjs: import a folder with ipfs-unixfs-importer (profile
// unixfs-v1-2025, wrapped in a directory) and print one JSON object:
//   {"root": "<cid>", "blocks": ["<cid>", ...]}
// with every block the importer stored, in the order it stored them.
//
//   node importer.mjs [--modules dir] <folder>
//
// The folder is walked depth first with names in UTF-8 byte order. Regular
// files are given as {path, content: stream}; a folder is given as {path}
// only when it is empty (the importer makes the other folders from the
// paths of their contents). Anything else in the tree is an error.
// Exit code 3: ipfs-unixfs-importer is not installed (search: --modules,
// $HASH_STREAM_NODE_MODULES, node_modules and .tools/node/node_modules in
// the folders above this script).
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

function usage (msg) {
  process.stderr.write(`importer.mjs: ${msg}\nusage: node importer.mjs [--modules dir] <folder>\n`)
  process.exit(2)
}

let modulesArg = process.env.HASH_STREAM_NODE_MODULES ?? ''
const positional = []
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--modules' && i + 1 < argv.length) {
    modulesArg = argv[++i]
  } else if (argv[i].startsWith('--')) {
    usage(`unknown flag ${argv[i]}`)
  } else {
    positional.push(argv[i])
  }
}
if (positional.length !== 1) usage('want one folder')
const folder = resolve(positional[0])

// Find the installed package. ESM ignores NODE_PATH, so a package is
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
const modules = modulesDirs().find(d => existsSync(join(d, 'ipfs-unixfs-importer', 'package.json')))
if (modules == null) {
  process.stderr.write(`importer.mjs: ipfs-unixfs-importer not installed (looked in ${modulesDirs().slice(0, 4).join(', ')}, ...; run bash .ci/tools.sh)\n`)
  process.exit(3)
}
function load (name) {
  const dir = join(modules, ...name.split('/'))
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const dot = pkg.exports?.['.'] ?? pkg.exports
  const entry = (typeof dot === 'string' ? dot : dot?.import ?? dot?.default) ?? pkg.main ?? 'index.js'
  return import(pathToFileURL(join(dir, entry)).href)
}
const { importer } = await load('ipfs-unixfs-importer')

function * walk (rel) {
  const names = readdirSync(join(folder, rel)).map(n => Buffer.from(n)).sort(Buffer.compare).map(b => b.toString())
  if (names.length === 0 && rel !== '') {
    yield { path: rel }
    return
  }
  for (const name of names) {
    const path = rel === '' ? name : `${rel}/${name}`
    const st = lstatSync(join(folder, path))
    if (st.isDirectory()) {
      yield * walk(path)
    } else if (st.isFile()) {
      yield { path, content: createReadStream(join(folder, path)) }
    } else {
      throw new Error(`${path}: not a regular file or folder`)
    }
  }
}

// Only put is called by the importer; the blocks themselves are not kept.
const blocks = []
const blockstore = {
  async put (cid) {
    blocks.push(cid.toString())
    return cid
  }
}
let root
for await (const entry of importer(walk(''), blockstore, { profile: 'unixfs-v1-2025', wrapWithDirectory: true })) {
  if (entry.path === '') root = entry.cid.toString()
}
if (root == null) {
  process.stderr.write('importer.mjs: no root directory came out\n')
  process.exit(1)
}
process.stdout.write(JSON.stringify({ root, blocks }) + '\n')
