// Hash Stream gateway: CloudFront Function (cloudfront-js-2.0, viewer
// request) that normalises the cache key. It mirrors the gateway's request
// parsing (lib/gateway/request.go, accept.go, entity_bytes.go): every
// request the gateway answers the same way leaves here with the same query
// and Accept, so it shares one cache entry, and junk cannot force a miss.
//  - Query: only format, dag-scope, entity-bytes, car-dups and filename
//    remain, in that order, in canonical form (defaults dropped,
//    car-version and car-order folded away: the gateway answers every
//    valid one as version=1, order=dfs). Other parameters are dropped.
//  - Accept: one of "application/vnd.ipld.raw",
//    "application/vnd.ipld.car; version=1; order=dfs", or none.
//  - A request the gateway would refuse (malformed query, bad value, no
//    format it serves) is answered here with the gateway's status (400 or
//    406), so junk never reaches (nor bills) the origin. When the path is
//    bad too, the gateway would name the path first; here the query is.
// Entries of Accept with RFC 2231 parameters (name*=) are ignored (Go's
// mime decodes them; no trustless client sends them).
// Takedowns (before anything else, for every /ipfs/ request but a
// preflight): the CID is decoded to its multihash and the edge denylist, a
// CloudFront KeyValueStore associated with this function, is looked up
// with the multihash's bytes in lowercase hex as the key (lib/cdn.DenyKey):
// CIDv0, and CIDv1 in any base this decodes (base2, base16, the base32
// family, base36, base58btc and flickr, base64 and base64url, padded or
// not, identity) and with any codec, are one key. A listed CID is answered
// here with the status the entry holds (410, 451) and the body "blocked",
// before the cache, so cached copies stop being served. Any failure of the
// lookup other than a hit (the key is not there, the store cannot be read,
// no store is associated) lets the request through: the edge fails open,
// the origin enforces the full list anyway. This file is the readable
// source; the stack deploys cachekey.min.js, its minified form
// (cachekey.go).
import cf from 'cloudfront';
var RAW = 'application/vnd.ipld.raw';
var CAR = 'application/vnd.ipld.car';
var CAR_CANON = CAR + '; version=1; order=dfs';
var NOPATH = 'raw blocks have no path: use car';
var ASK = 'accept ' + RAW + ' or ' + CAR + ', or use ?format=raw|car';
var TRUSTLESS = ['format', 'dag-scope', 'entity-bytes', 'car-version', 'car-order', 'car-dups'];
// Go's unicode.IsSpace.
var SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
var TSPECIALS = '()<>@,;:\\"/[]?=';
// BLOCKED_MAX_AGE is the gateway's BlockedMaxAge (lib/gateway/deny.go).
var BLOCKED_MAX_AGE = 60;

// kvs is the edge denylist, or null when no store is associated (the
// stack's denylist=false).
var kvs = null;
try {
    kvs = cf.kvs();
} catch (e) {
    kvs = null;
}

async function handler(event) {
    var req = event.request;
    var headers = req.headers || {};
    req.headers = headers;
    if (req.method === 'OPTIONS') {
        // The gateway answers every preflight alike.
        req.querystring = '';
        delete headers.accept;
        return req;
    }
    var uri = req.uri || '';
    if (kvs && uri.indexOf('/ipfs/') === 0) {
        var key = denyKey(uri);
        if (key) {
            var v = null;
            try {
                v = await kvs.get(key);
            } catch (e) {
                // Not listed, or the store failed: fail open.
                v = null;
            }
            if (v !== null && v !== undefined) return blocked(v);
        }
    }
    // rawQueryString (runtime 2.0): the query as sent, unparsed.
    var q = parseQuery(req.rawQueryString() || '');
    if (q.error) return reply(400, q.error);
    if (uri.indexOf('/ipfs/') !== 0) {
        // Not a content path: the gateway answers from the path alone.
        req.querystring = '';
        delete headers.accept;
        return req;
    }
    var h = headers.accept;
    var values = !h ? [] : (h.multiValue || [h]).map(function (x) { return x.value; });
    var n = normalise(q.values, q.raw, values, h !== undefined, hasPath(uri));
    if (n.status) return reply(n.status, n.message);
    req.querystring = n.query;
    if (n.accept) {
        headers.accept = { value: n.accept };
    } else {
        delete headers.accept;
    }
    return req;
}

// normalise decides as ParseRequest does and returns the canonical query
// and Accept, or the status and message of the gateway's refusal.
function normalise(q, rawq, acceptValues, hasAccept, path) {
    var a = negotiate(acceptValues, path);
    var fmt = first(q, 'format');
    var format = '';
    if (fmt !== '') {
        if (fmt !== 'raw' && fmt !== 'car') return refuse(406, 'format ' + quote(fmt) + ' not supported: use raw or car');
        if (fmt === 'raw' && path) return refuse(406, NOPATH);
        format = fmt;
    } else if (a.format) {
        format = a.format;
    } else if (a.rawWithPath) return refuse(406, NOPATH); else if (!hasAccept) return refuse(400, 'no response format: ' + ASK); else {
        return refuse(406, 'only trustless responses are served: ' + ASK);
    }
    var out = [];
    if (fmt !== '') {
        out.push('format=' + fmt);
    }
    if (format === 'car') {
        var ac = a.car || Object.create(null);
        var v = first(q, 'car-version') || ac.version || '';
        if (v !== '' && v !== '1') return refuse(406, 'car version ' + quote(v) + ' not supported: use 1');
        v = first(q, 'car-order') || ac.order || '';
        if (v !== '' && v !== 'dfs' && v !== 'unk') return refuse(406, 'car order ' + quote(v) + ' not supported: use dfs or unk');
        var dups = first(q, 'car-dups') || ac.dups || '';
        if (dups !== '' && dups !== 'n' && dups !== 'y') return refuse(400, 'invalid car-dups ' + quote(dups) + ': use y or n');
        var scope = first(q, 'dag-scope');
        if (scope !== '' && scope !== 'all' && scope !== 'entity' && scope !== 'block') return refuse(400, 'invalid dag-scope ' + quote(scope) + ': use block, entity or all');
        var eb = '';
        if (q['entity-bytes'] !== undefined) {
            var r = entityBytes(first(q, 'entity-bytes'));
            if (r.error) return refuse(400, r.error);
            // entity-bytes implies dag-scope=entity; another explicit
            // scope wins and the range is dropped.
            if (scope === '' || scope === 'entity') {
                scope = 'entity';
                eb = r.value;
            }
        }
        if (scope === 'entity' || scope === 'block') {
            out.push('dag-scope=' + scope);
        }
        if (eb !== '') {
            out.push('entity-bytes=' + eb);
        }
        if (dups === 'y') {
            out.push('car-dups=y');
        }
    }
    if (first(q, 'filename') !== '') {
        // Free-form, kept as sent (already checked to unescape).
        out.push('filename=' + rawq.filename);
    }
    var accept = '';
    if (fmt === '') {
        accept = format === 'raw' ? RAW : CAR_CANON;
    }
    return { query: out.join('&'), accept: accept };
}

function refuse(status, message) {
    return { status: status, message: message };
}

var REASONS = { 400: 'Bad Request', 406: 'Not Acceptable', 410: 'Gone', 451: 'Unavailable For Legal Reasons' };

function reply(status, message, maxAge) {
    var r = {
        statusCode: status,
        statusDescription: REASONS[status] || 'Blocked',
        headers: {
            'content-type': { value: 'text/plain; charset=utf-8' },
            'x-content-type-options': { value: 'nosniff' },
            'access-control-allow-origin': { value: '*' }
        },
        body: { encoding: 'text', data: message + '\n' }
    };
    if (maxAge) {
        r.headers['cache-control'] = { value: 'public, max-age=' + maxAge };
    }
    return r;
}

// blocked answers a listed CID as the gateway does (lib/gateway/errors.go):
// the entry's status (410 when it holds none in 400-599), "blocked",
// cacheable for BLOCKED_MAX_AGE seconds so that an unblock takes effect.
function blocked(value) {
    var status = +value;
    if (!(status >= 400 && status <= 599 && status % 1 === 0)) {
        status = 410;
    }
    return reply(status, 'blocked', BLOCKED_MAX_AGE);
}

// Multibase alphabets: those of 2^n bases are decoded bit by bit
// (RFC 4648, padding dropped), the others as big numbers.
var B32 = 'abcdefghijklmnopqrstuvwxyz234567';
var B32HEX = '0123456789abcdefghijklmnopqrstuv';
var B36 = '0123456789abcdefghijklmnopqrstuvwxyz';
var B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
var B58FLICKR = '123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ';
var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// prefix: [alphabet, bits per character (0: a big number), case-insensitive]
var BASES = {
    '0': ['01', 1], f: ['0123456789abcdef', 4, 1], F: ['0123456789abcdef', 4, 1],
    b: [B32, 5, 1], B: [B32, 5, 1], c: [B32, 5, 1], C: [B32, 5, 1],
    v: [B32HEX, 5, 1], V: [B32HEX, 5, 1], t: [B32HEX, 5, 1], T: [B32HEX, 5, 1],
    k: [B36, 0, 1], K: [B36, 0, 1], z: [B58, 0], Z: [B58FLICKR, 0],
    m: [B64 + '+/', 6], M: [B64 + '+/', 6], u: [B64 + '-_', 6], U: [B64 + '-_', 6]
};

// denyKey returns the edge denylist key of the CID that starts the content
// path uri (after /ipfs/), or null when it does not decode.
function denyKey(uri) {
    var s = unescape(uri.slice(6).split('/')[0], true);
    if (!s) return null;
    var b;
    if (s.length === 46 && s.slice(0, 2) === 'Qm') {
        // CIDv0: a base58btc sha2-256 multihash.
        b = decodeRadix(s, B58);
    } else if (s[0] === '\0') {
        // The identity multibase: the CID's own bytes.
        b = [];
        for (var i = 1; i < s.length; i++) {
            b.push(s.charCodeAt(i));
        }
    } else {
        var base = BASES[s[0]];
        if (!base) return null;
        var text = s.slice(1).replace(/=+$/, '');
        if (base[2]) {
            text = text.toLowerCase();
        }
        b = base[1] ? decodeBits(text, base[0], base[1]) : decodeRadix(text, base[0]);
    }
    // A multihash alone (a CIDv0's bytes, in a multibase) is a CIDv0; else
    // version 1 and a codec come before the multihash.
    if (b && !(b.length === 34 && b[0] === 0x12 && b[1] === 0x20)) {
        b = b[0] === 1 ? skipVarint(b, 1) : null;
    }
    if (!b || !b.length) return null;
    var hex = '';
    for (var j = 0; j < b.length; j++) {
        hex += (b[j] < 16 ? '0' : '') + b[j].toString(16);
    }
    return hex;
}

// skipVarint returns b after the unsigned varint at i, or null.
function skipVarint(b, i) {
    while (i < b.length && b[i] & 0x80) {
        i++;
    }
    return i < b.length ? b.slice(i + 1) : null;
}

function decodeBits(s, alphabet, bits) {
    var out = [], acc = 0, n = 0;
    for (var i = 0; i < s.length; i++) {
        var d = alphabet.indexOf(s[i]);
        if (d < 0) return null;
        acc = (acc << bits | d) & 0xffff;
        n += bits;
        if (n >= 8) {
            n -= 8;
            out.push(acc >> n & 0xff);
        }
    }
    return out;
}

function decodeRadix(s, alphabet) {
    var out = [], zeros = 0;
    for (var i = 0; i < s.length; i++) {
        var carry = alphabet.indexOf(s[i]);
        if (carry < 0) return null;
        if (carry === 0 && out.length === 0) {
            zeros++;
            continue;
        }
        for (var j = out.length - 1; j >= 0; j--) {
            carry += out[j] * alphabet.length;
            out[j] = carry & 0xff;
            carry >>= 8;
        }
        while (carry > 0) {
            out.unshift(carry & 0xff);
            carry >>= 8;
        }
    }
    while (zeros-- > 0) {
        out.unshift(0);
    }
    return out;
}

// quote renders s as Go's %q does for the ASCII the messages need.
function quote(s) {
    return JSON.stringify(s);
}

function first(q, name) {
    var v = q[name];
    return v === undefined ? '' : v[0];
}

// hasPath reports whether the content path has segments below the CID.
function hasPath(uri) {
    var parts = uri.slice(6).split('/');
    if (parts.length > 1 && parts[parts.length - 1] === '') {
        parts.pop();
    }
    return parts.length > 1;
}

// parseQuery is the gateway's parseQuery: '&'-separated pairs, each
// unescaped as Go's url.QueryUnescape (here to one char per byte); a bad
// escape, a ';' or a trustless parameter repeated with another value is
// an error. raw keeps each name's first value as sent.
function parseQuery(s) {
    var values = Object.create(null);
    var raw = Object.create(null);
    var pairs = s.split('&');
    for (var i = 0; i < pairs.length; i++) {
        var pair = pairs[i];
        if (pair === '') continue;
        var eq = pair.indexOf('=');
        var rk = eq < 0 ? pair : pair.slice(0, eq);
        var rv = eq < 0 ? '' : pair.slice(eq + 1);
        var key = unescape(rk);
        if (key === null) return { error: 'query parameter ' + quote(rk) + ': invalid escape' };
        if (pair.indexOf(';') >= 0) return { error: 'query parameter ' + quote(key) + ": ';' is not a separator, use '&'" };
        var value = unescape(rv);
        if (value === null) return { error: 'query parameter ' + quote(key) + ': invalid escape in its value' };
        if (values[key] === undefined) {
            values[key] = [];
            raw[key] = rv;
        }
        values[key].push(value);
    }
    for (var j = 0; j < TRUSTLESS.length; j++) {
        var vs = values[TRUSTLESS[j]];
        for (var m = 0; vs && m < vs.length; m++) {
            if (vs[m] !== vs[0]) return { error: 'query parameter ' + quote(TRUSTLESS[j]) + ' is given twice with different values' };
        }
    }
    return { values: values, raw: raw };
}

// unescape decodes %XX escapes, and '+' as a space unless in a path.
function unescape(s, path) {
    var out = '';
    for (var i = 0; i < s.length; i++) {
        var c = s[i];
        if (c === '%') {
            var hex = s.substr(i + 1, 2);
            if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
            out += String.fromCharCode(parseInt(hex, 16));
            i += 2;
        } else {
            out += c === '+' && !path ? ' ' : c;
        }
    }
    return out;
}

// entityBytes is ParseEntityBytes: "from:to", integers (int64) or "*" for
// to; value is the canonical form.
function entityBytes(s) {
    var bad = function (why) {
        return { error: 'invalid entity-bytes ' + quote(s) + ': ' + why };
    };
    var c = s.indexOf(':');
    if (c < 0) return bad('use from:to');
    var from = offset(s.slice(0, c));
    if (from === null) return bad('from must be an integer');
    var toText = s.slice(c + 1);
    if (toText === '*') return { value: from + ':*' };
    var to = offset(toText);
    if (to === null) return bad('to must be an integer or *');
    var fneg = from[0] === '-';
    if (fneg === (to[0] === '-') && compareInt(from, to) > 0) return bad('from is after to');
    return { value: from + ':' + to };
}

// offset returns an int64's canonical decimal text, or null.
function offset(s) {
    var neg = s[0] === '-';
    var d = neg ? s.slice(1) : s;
    if (!/^[0-9]+$/.test(d)) return null;
    d = d.replace(/^0+/, '') || '0';
    var max = neg ? '9223372036854775808' : '9223372036854775807';
    if (d.length > 19 || (d.length === 19 && d > max)) return null;
    return neg && d !== '0' ? '-' + d : d;
}

// compareInt compares canonical integers of the same sign.
function compareInt(a, b) {
    var neg = a[0] === '-';
    var x = neg ? a.slice(1) : a;
    var y = neg ? b.slice(1) : b;
    var c = x.length !== y.length ? x.length - y.length : (x < y ? -1 : x > y ? 1 : 0);
    return neg ? -c : c;
}

// negotiate is the gateway's Accept negotiation.
function negotiate(values, path) {
    var a = { format: '', car: null, carQ: 0, rawWithPath: false };
    var bestQ = 0;
    for (var i = 0; i < values.length; i++) {
        var entries = splitList(values[i]);
        for (var j = 0; j < entries.length; j++) {
            var mt = parseMediaType(entries[j]);
            if (mt === null) continue;
            var q = quality(mt.params);
            if (q === null || q === 0) continue;
            var f;
            if (mt.type === RAW) {
                if (path) {
                    a.rawWithPath = true;
                    continue;
                }
                f = 'raw';
            } else if (mt.type === CAR) {
                if (!carVariantOK(mt.params)) continue;
                f = 'car';
            } else {
                continue;
            }
            if (q > bestQ) {
                bestQ = q;
                a.format = f;
            }
            if (f === 'car' && (a.car === null || q > a.carQ)) {
                a.car = mt.params;
                a.carQ = q;
            }
        }
    }
    return a;
}

function quality(p) {
    if (!Object.prototype.hasOwnProperty.call(p, 'q')) return 1;
    var s = p.q;
    delete p.q;
    if (!/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(s)) return null;
    return parseFloat(s);
}

function carVariantOK(p) {
    var has = function (k) { return Object.prototype.hasOwnProperty.call(p, k); };
    return !(has('version') && p.version !== '1') &&
        !(has('order') && p.order !== 'dfs' && p.order !== 'unk') &&
        !(has('dups') && p.dups !== 'y' && p.dups !== 'n');
}

// splitList splits at commas outside quoted strings, dropping empties.
function splitList(v) {
    var out = [];
    var inQuote = false, escaped = false, start = 0;
    for (var i = 0; i <= v.length; i++) {
        var c = v[i];
        if (i < v.length) {
            if (escaped) {
                escaped = false;
                continue;
            }
            if (inQuote && c === '\\') {
                escaped = true;
                continue;
            }
            if (c === '"') {
                inQuote = !inQuote;
                continue;
            }
            if (c !== ',' || inQuote) continue;
        }
        var e = trim(v.slice(start, i));
        if (e !== '') {
            out.push(e);
        }
        start = i + 1;
    }
    return out;
}

var LEFT = new RegExp('^' + SPACE.source + '+');
var RIGHT = new RegExp(SPACE.source + '+$');
function trimLeft(s) { return s.replace(LEFT, ''); }
function trim(s) { return trimLeft(s).replace(RIGHT, ''); }

// token splits s after its leading RFC 2045 token chars.
function token(s) {
    var t = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]*/.exec(s)[0];
    return [t, s.slice(t.length)];
}

// parseMediaType is Go's mime.ParseMediaType, or null for its errors.
function parseMediaType(v) {
    var semi = v.indexOf(';');
    var base = semi < 0 ? v : v.slice(0, semi);
    var mt = trim(base.toLowerCase());
    var t = token(mt);
    if (t[0] === '' || (t[1] !== '' && (t[1][0] !== '/' || (t = token(t[1].slice(1)))[0] === '' || t[1] !== ''))) return null;
    var params = Object.create(null);
    var rest = v.slice(base.length);
    while (rest.length > 0) {
        rest = trimLeft(rest);
        if (rest === '') break;
        var p = param(rest);
        if (p === null) {
            if (trim(rest) === ';') break;
            return null;
        }
        if (p[0].indexOf('*') >= 0) return null;
        if (Object.prototype.hasOwnProperty.call(params, p[0]) && params[p[0]] !== p[1]) return null;
        params[p[0]] = p[1];
        rest = p[2];
    }
    return { type: mt, params: params };
}

// param is Go's consumeMediaParam: [name, value, rest] or null.
function param(v) {
    var rest = trimLeft(v);
    if (rest[0] !== ';') return null;
    var t = token(trimLeft(rest.slice(1)));
    var name = t[0].toLowerCase();
    if (name === '') return null;
    rest = trimLeft(t[1]);
    if (rest[0] !== '=') return null;
    rest = trimLeft(rest.slice(1));
    var val = value(rest);
    if (val[0] === '' && val[1] === rest) return null;
    return [name, val[0], val[1]];
}

// value is Go's consumeValue: a token or a quoted string.
function value(v) {
    if (v[0] !== '"') return token(v);
    var b = '';
    for (var i = 1; i < v.length; i++) {
        var c = v[i];
        if (c === '"') return [b, v.slice(i + 1)];
        if (c === '\\' && i + 1 < v.length && TSPECIALS.indexOf(v[i + 1]) >= 0) {
            b += v[i + 1];
            i++;
            continue;
        }
        if (c === '\r' || c === '\n') return ['', v];
        b += c;
    }
    return ['', v];
}
