// Checks the answers of a newman run (and of an httpyac run) against helsesim's OpenAPI
// documents: every answer's status must be one its operation documents, and its body must match
// the schema given for that status and content type (JSON Schema 2020-12, as OpenAPI 3.1 uses,
// by Ajv).
//
//   node check-responses.mjs [--newman REPORT.json] [--httpyac REPORT.json]
//        DOCUMENT.json ... [--prose DOCUMENT.json ...]
//
// A document after --prose may describe a body in words only (no `content`): such a body is not
// flagged (the control plane's generated document describes most answers so). Prints what it
// checked; exits 1 listing every mismatch.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

const args = process.argv.slice(2);
const reports = {};
for (const runner of ['--newman', '--httpyac']) {
  const at = args.indexOf(runner);
  if (at >= 0) reports[runner] = args.splice(at, 2)[1];
}
const rest = args;
const proseAt = rest.indexOf('--prose');
const documentFiles = rest.filter((arg) => arg !== '--prose');
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, validateFormats: false });
const documents = documentFiles.map((file, index) => {
  const document = JSON.parse(readFileSync(file, 'utf8'));
  const id = `document${index}`;
  ajv.addSchema(document, id);
  const server = new URL(document.servers[0].url).pathname.replace(/\/$/, '');
  const prose = proseAt >= 0 && index >= proseAt;
  return { id, document, server, file, prose };
});

const pointer = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

// The document and path template of a request path: the longest server prefix, then a template
// whose literal segments all match (a literal beats a parameter).
function locate(path) {
  const candidates = documents
    .filter((d) => path === d.server || path.startsWith(d.server + '/'))
    .sort((a, b) => b.server.length - a.server.length);
  for (const d of candidates) {
    const rest = path.slice(d.server.length) || '/';
    const segments = rest.split('/');
    let best = null;
    for (const template of Object.keys(d.document.paths)) {
      const parts = template.split('/');
      if (parts.length !== segments.length) continue;
      let literals = 0;
      const fits = parts.every((part, i) => {
        if (part.startsWith('{')) return true;
        literals += 1;
        return part === decodeURIComponent(segments[i]);
      });
      if (fits && (!best || literals > best.literals)) best = { template, literals };
    }
    if (best) return { d, template: best.template };
  }
  return null;
}

// The exchanges of both runs, alike: name, method, path, status, headers (lower case), body.
const exchanges = [];
const newman = reports['--newman'] ? JSON.parse(readFileSync(reports['--newman'], 'utf8')) : null;
for (const execution of newman?.run.executions ?? []) {
  const { request, response } = execution;
  if (!response) continue;
  exchanges.push({
    name: execution.item.name,
    method: request.method,
    path: '/' + request.url.path.join('/'),
    status: response.code,
    headers: Object.fromEntries(response.header.map((h) => [h.key.toLowerCase(), h.value])),
    body: Buffer.from(response.stream?.data ?? []).toString('utf8'),
  });
}
if (reports['--httpyac']) {
  for (const sent of JSON.parse(readFileSync(reports['--httpyac'], 'utf8')).requests) {
    const response = sent.response;
    if (!response) continue;
    exchanges.push({
      name: sent.name,
      method: response.request.method,
      path: new URL(response.request.url).pathname,
      status: Number(response.statusCode),
      headers: Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), String(v)])),
      body: typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? ''),
    });
  }
}

const problems = [];
let checked = 0;
for (const exchange of exchanges) {
  const { method: verb, path, headers } = exchange;
  const method = verb.toLowerCase();
  const response = { code: exchange.status };
  const name = `${exchange.name}: ${verb} ${path} → ${exchange.status}`;
  // An answer a fault rule injected is not the API's.
  if (headers['x-helsesim-fault'] === 'injected') continue;
  const found = locate(path);
  if (!found) {
    problems.push(`${name}: no document describes this path`);
    continue;
  }
  const operation = found.d.document.paths[found.template][method];
  if (!operation) {
    problems.push(`${name}: ${found.template} documents no ${method.toUpperCase()}`);
    continue;
  }
  const status = String(response.code);
  const documented = operation.responses[status] ?? operation.responses.default;
  if (!documented) {
    problems.push(`${name}: status ${status} is not documented (${Object.keys(operation.responses).join(', ')})`);
    continue;
  }
  const body = exchange.body;
  checked += 1;
  if (body.length === 0) continue;
  const mediaType = (headers['content-type'] || '').split(';')[0].trim();
  const content = documented.content ?? {};
  if (!documented.content && found.d.prose) continue;
  if (!(mediaType in content)) {
    problems.push(`${name}: a ${mediaType || 'untyped'} body the document does not describe (${Object.keys(content).join(', ') || 'no body'})`);
    continue;
  }
  if (!mediaType.endsWith('json') || !content[mediaType].schema) continue;
  const ref = `${found.d.id}#/${pointer('paths', found.template, method, 'responses', operation.responses[status] ? status : 'default', 'content', mediaType, 'schema')}`;
  const validate = ajv.getSchema(ref);
  if (!validate(JSON.parse(body))) {
    const errors = validate.errors.slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    problems.push(`${name}: the body does not match the documented schema: ${errors}`);
  }
}
console.log(`checked ${checked} answers against ${documents.length} documents`);
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
